"""Test helper driving an S3-compatible server (moto) with boto3.

  s3_peer.py ENDPOINT mkbucket BUCKET         create a bucket
  s3_peer.py ENDPOINT list BUCKET PREFIX      print {key: size} as JSON
  s3_peer.py ENDPOINT head BUCKET KEY         print {"etag", "size"} as JSON
  s3_peer.py ENDPOINT get BUCKET KEY FILE     download an object into FILE
  s3_peer.py ENDPOINT put BUCKET KEY FILE     upload FILE as an object
  s3_peer.py ENDPOINT rm BUCKET KEY           delete an object

Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (moto accepts
any); path-style addressing, region us-east-1.
"""
import json
import sys

import boto3
from botocore.config import Config

endpoint, cmd, bucket = sys.argv[1], sys.argv[2], sys.argv[3]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}))

if cmd == "mkbucket":
    s3.create_bucket(Bucket=bucket)
elif cmd == "list":
    prefix = sys.argv[4]
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            out[o["Key"]] = o["Size"]
    print(json.dumps(out, sort_keys=True))
elif cmd == "head":
    h = s3.head_object(Bucket=bucket, Key=sys.argv[4])
    print(json.dumps({"etag": h["ETag"].strip('"'), "size": h["ContentLength"]}))
elif cmd == "get":
    s3.download_file(bucket, sys.argv[4], sys.argv[5])
elif cmd == "put":
    with open(sys.argv[5], "rb") as f:
        s3.put_object(Bucket=bucket, Key=sys.argv[4], Body=f.read())
elif cmd == "rm":
    s3.delete_object(Bucket=bucket, Key=sys.argv[4])
else:
    sys.exit(f"unknown command {cmd}")
