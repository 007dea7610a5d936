"""Graph -> Graph transformations: jvp, vjp (reverse mode), partial evaluation, vmap."""
