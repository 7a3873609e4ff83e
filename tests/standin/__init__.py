"""Loopback stand-ins for the AWS services cdgate talks to.

- ``standin.imds``: IMDSv2 (instance metadata), ``ImdsServer``.
- ``standin.ec2``: the EC2 Query API (DescribeTags, CreateTags) with SigV4
  verification by botocore, ``Ec2Server``.
- ``standin.common``: the HTTP machinery both share (one-write replies,
  fault injection, standalone mode).

Every server binds 127.0.0.1 only and never opens an outbound connection.
"""
