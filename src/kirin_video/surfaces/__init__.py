"""Wire formats ("surfaces") over the same tasks: one package per client family."""
