"""Work queues: SQS in AWS and the devstack, in memory for tests and a queue-less local run."""
