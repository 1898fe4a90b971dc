#!/usr/bin/python3
"""A token for the demo's signed-in location (/graphql-auth):

    demo_token.py KEY_FILE SUBJECT [ROLE]

HS256 with the key file's secret (its final line break aside, as the
module reads it), for SUBJECT, role ROLE (demo_user), valid one day."""

import sys
import time

import jwt

key = open(sys.argv[1]).read().rstrip("\r\n")
now = int(time.time())
print(jwt.encode({"sub": sys.argv[2],
                  "role": sys.argv[3] if len(sys.argv) > 3 else "demo_user",
                  "iat": now, "exp": now + 86400}, key, algorithm="HS256"))
