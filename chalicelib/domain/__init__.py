"""Pure business rules. Nothing here imports AWS, HTTP or Microsoft libraries."""
