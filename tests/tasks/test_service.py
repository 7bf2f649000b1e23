"""The task service: every status change in one guarded transaction, with its outbox row."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from kirin_video.config import Settings
from kirin_video.contract.catalog import Status
from kirin_video.contract.errors import (
    ErrorCode,
    ExternalIdTaken,
    RateLimited,
    TaskAlreadyFinished,
    TaskNotFound,
)
from kirin_video.contract.params import Params, parse_params
from kirin_video.tasks.db import Database
from kirin_video.tasks.service import StoredImage, TaskService
from kirin_video.tasks.snapshot import OutputFile, OutputKind, TaskSnapshot, Usage
from kirin_video.tasks.tables import TaskImage, WebhookDelivery
from tests.conftest import b64, make_image

IMAGE = make_image(320, 320)
WORKER = "host:1"


def params(**fields: object) -> Params:
    return parse_params({"model": "kirin_v1_6_i2v", "image": b64(IMAGE), **fields})


@pytest.fixture
def service(settings: Settings) -> Iterator[TaskService]:
    db = Database.from_settings(settings)
    db.migrate()
    yield TaskService(db, max_unfinished=3)
    db.close()


def create(service: TaskService, owner: str = "a", **fields: object) -> str:
    request = params(**fields)
    return service.create(owner=owner, request=request, images=[StoredImage("first", IMAGE)]).id


def test_create_stores_the_task_and_its_images_together(service: TaskService) -> None:
    task_id = create(service, prompt="dawn", seed=7)
    task = service.get(owner="a", ref=task_id)
    assert (task.status, task.seed, task.params["prompt"]) == (Status.PENDING, 7, "dawn")
    with service.db.session() as session:
        images = session.scalars(select(TaskImage).where(TaskImage.task_id == task_id)).all()
    assert [(image.role, image.data) for image in images] == [("first", IMAGE)]


def test_a_repeated_external_id_of_one_key_is_refused_and_creates_nothing(
    service: TaskService,
) -> None:
    create(service, external_task_id="order-1")
    with pytest.raises(ExternalIdTaken, match="order-1"):
        create(service, external_task_id="order-1")
    create(service, owner="b", external_task_id="order-1")  # another key's ids are its own
    assert len(service.list_tasks(owner="a").tasks) == 1


def test_a_key_over_its_unfinished_cap_is_refused(service: TaskService) -> None:
    for _ in range(3):
        create(service)
    with pytest.raises(RateLimited) as refused:
        create(service)
    assert refused.value.concurrent
    assert len(service.list_tasks(owner="a").tasks) == 3


def test_get_finds_by_id_or_external_id_and_never_another_keys_task(
    service: TaskService,
) -> None:
    task_id = create(service, external_task_id="mine")
    assert service.get(owner="a", ref="mine").id == task_id
    with pytest.raises(TaskNotFound):
        service.get(owner="b", ref=task_id)
    with pytest.raises(TaskNotFound):
        service.get(owner="b", ref="mine")


def test_list_filters_by_stored_statuses_and_pages_newest_first(service: TaskService) -> None:
    first, second, third = (create(service) for _ in range(3))
    service.cancel(owner="a", ref=second)
    page = service.list_tasks(owner="a", limit=2)
    assert [t.id for t in page.tasks] == [third, second]
    rest = service.list_tasks(owner="a", limit=2, cursor=page.next_cursor)
    assert ([t.id for t in rest.tasks], rest.next_cursor) == ([first], None)
    waiting = service.list_tasks(owner="a", statuses=[Status.PENDING, Status.PROCESSING])
    assert {t.id for t in waiting.tasks} == {first, third}
    assert [t.id for t in service.list_tasks(owner="a", statuses=[Status.CANCELLED]).tasks] == [
        second
    ]


def test_cancel_records_the_code_and_a_finished_task_cannot_be_cancelled(
    service: TaskService,
) -> None:
    task_id = create(service)
    cancelled = service.cancel(owner="a", ref=task_id)
    assert (cancelled.status, cancelled.error_code) == (
        Status.CANCELLED,
        ErrorCode.TASK_CANCELLED.value,
    )
    with pytest.raises(TaskAlreadyFinished, match=task_id):
        service.cancel(owner="a", ref=task_id)


def test_claim_complete_stores_typed_outputs_that_a_snapshot_reads_back(
    service: TaskService,
) -> None:
    task_id = create(service)
    claimed = service.claim(task_id, worker=WORKER)
    assert claimed is not None
    assert claimed.images == [StoredImage("first", IMAGE)]
    assert service.claim(task_id, worker="host:2") is None  # only one worker gets it
    outputs = [
        OutputFile(kind=OutputKind.VIDEO, key=f"{task_id}/1/video.mp4", seconds=5),
        OutputFile(kind=OutputKind.COVER, key=f"{task_id}/1/cover.jpg"),
    ]
    done = service.complete(
        task_id, worker=WORKER, outputs=outputs, usage=Usage(cost="0.2800"), meta={"seed": 1}
    )
    assert done
    snap = TaskSnapshot.of(service.get(owner="a", ref=task_id))
    assert (snap.status, snap.outputs, snap.usage) == (
        Status.COMPLETED,
        tuple(outputs),
        Usage(cost="0.2800", discount=0),
    )
    assert snap.output(OutputKind.VIDEO_WATERMARKED) is None


def test_only_the_lease_holder_can_report_finish_or_fail(service: TaskService) -> None:
    task_id = create(service)
    assert service.claim(task_id, worker=WORKER) is not None
    assert not service.report_progress(task_id, 0.5, worker="host:2")
    assert not service.fail(task_id, code=ErrorCode.GENERATION_FAILED, message="x", worker="h:2")
    assert service.report_progress(task_id, 0.5, worker=WORKER)
    assert service.get(owner="a", ref=task_id).progress == 0.5
    assert service.fail(task_id, code=ErrorCode.GENERATION_FAILED, message="boom", worker=WORKER)
    failed = service.get(owner="a", ref=task_id)
    assert (failed.status, failed.error_code, failed.error_message) == (
        Status.FAILED,
        ErrorCode.GENERATION_FAILED.value,
        "boom",
    )


def test_release_hands_the_task_back_without_counting_the_try(service: TaskService) -> None:
    task_id = create(service)
    assert service.claim(task_id, worker=WORKER) is not None
    assert service.release(task_id, worker=WORKER)
    task = service.get(owner="a", ref=task_id)
    assert (task.status, task.attempts, task.worker) == (Status.PENDING, 0, None)


def test_each_status_change_of_a_task_with_a_callback_writes_one_outbox_row(
    service: TaskService,
) -> None:
    task_id = create(service, callback_url="https://example.com/hook")
    assert service.claim(task_id, worker=WORKER) is not None
    service.cancel(owner="a", ref=task_id)
    records = service.callbacks(owner="a", ref=task_id)
    assert [r.event for r in records] == [Status.PROCESSING, Status.CANCELLED]
    with service.db.session() as session:
        payloads = session.scalars(
            select(WebhookDelivery.payload)
            .where(WebhookDelivery.task_id == task_id)
            .order_by(WebhookDelivery.seq)
        ).all()
    snapshots = [TaskSnapshot.model_validate(p) for p in payloads]
    assert [s.status for s in snapshots] == [Status.PROCESSING, Status.CANCELLED]
    assert snapshots[1].error_code == ErrorCode.TASK_CANCELLED.value


def test_a_task_without_a_callback_owes_none(service: TaskService) -> None:
    task_id = create(service)
    service.cancel(owner="a", ref=task_id)
    with service.db.session() as session:
        count = session.scalar(select(func.count()).select_from(WebhookDelivery))
    assert count == 0


def test_a_completion_that_committed_is_recognised_when_its_retry_finds_nothing(
    service: TaskService,
) -> None:
    """A dropped connection can lose the answer of a committed write; the retry must not undo it."""
    task_id = create(service)
    assert service.claim(task_id, worker=WORKER) is not None
    outputs = [OutputFile(kind=OutputKind.VIDEO, key=f"{task_id}/1/video.mp4", seconds=5)]
    usage = Usage(cost="0.2800")
    assert not service.completed_with(task_id, outputs)
    assert service.complete(task_id, worker=WORKER, outputs=outputs, usage=usage, meta={})
    assert not service.complete(task_id, worker=WORKER, outputs=outputs, usage=usage, meta={})
    assert service.completed_with(task_id, outputs)
    other = [OutputFile(kind=OutputKind.VIDEO, key=f"{task_id}/2/video.mp4", seconds=5)]
    assert not service.completed_with(task_id, other)  # another run's files are not ours
