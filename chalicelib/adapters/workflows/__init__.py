"""Workflows on AWS Step Functions."""
