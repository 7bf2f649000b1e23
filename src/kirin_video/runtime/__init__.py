"""What runs tasks: ``execute(task_id)`` and the workers that call it."""
