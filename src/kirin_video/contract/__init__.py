"""The public API as code: models, rules, defaults, error codes and output geometry."""
