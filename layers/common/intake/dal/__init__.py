"""Data access: the only package that touches boto3 or PynamoDB. It returns domain objects and raises domain errors."""
