"""The single DynamoDB table, its in-memory twin, and the repositories built on them."""
