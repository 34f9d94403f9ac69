"""Workers run by Step Functions and SQS. Each is a thin Powertools handler over a service."""
