"""The local AWS in miniature that `make run` starts: moto server with Cognito, the HTTP API with JWT checks, SQS
pollers, schedules, the SFTP server, the seed, and the template helpers they read (never deployed)."""
