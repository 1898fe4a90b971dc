#!/usr/bin/python3
"""A token for the demo's signed-in location (/graphql-auth):

    demo_token.py KEY_FILE SUBJECT [ROLE [TEAM]]

HS256 with the key file's secret (its final line break aside, as the
module reads it), for SUBJECT, role ROLE (demo_user), member of the team
TEAM (a team's id: its projects are the token's), valid one day."""

import sys
import time

import jwt

key = open(sys.argv[1]).read().rstrip("\r\n")
now = int(time.time())
claims = {"sub": sys.argv[2],
          "role": sys.argv[3] if len(sys.argv) > 3 else "demo_user",
          "iat": now, "exp": now + 86400}
if len(sys.argv) > 4:
    claims["team"] = sys.argv[4]
print(jwt.encode(claims, key, algorithm="HS256"))
