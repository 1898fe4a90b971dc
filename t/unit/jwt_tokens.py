#!/usr/bin/python3
"""Writes t/unit/jwt_tokens.h and the fuzzer's seed corpus t/fuzz/corpus/jwt.

The tokens are made by PyJWT 2.6 and cryptography (Debian's python3-jwt and
python3-cryptography), not by the code under test, with the test-only keys
of t/unit/keys.  They are dated around NOW (below), which the tests pass as
the time of verification, so that they never expire.  ECDSA signatures are
random: running this again rewrites every ES token.

    /usr/bin/python3 t/unit/jwt_tokens.py
"""

import base64
import hashlib
import hmac
import json
import os

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature, encode_dss_signature)

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS = os.path.join(HERE, "keys")
ROOT = os.path.dirname(os.path.dirname(HERE))
NOW = 1800000000          # 2027-01-15T08:00:00Z
AT = NOW                  # what tokens() dates them around
ISSUER = "https://issuer.example"
ALGS = jwt.algorithms.get_default_algorithms()


def key(name):
    with open(os.path.join(KEYS, name), "rb") as f:
        return f.read()


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def claims(**extra):
    c = {"sub": "user-1", "role": "editor", "iat": AT - 10,
         "exp": AT + 3600}
    c.update(extra)
    return {k: v for k, v in c.items() if v is not None}


PRIVATE = {
    "HS256": key("hs256.key"), "HS384": key("hs384.key"),
    "HS512": key("hs512.key"),
    "RS256": key("rsa2048.pem"), "RS384": key("rsa2048.pem"),
    "RS512": key("rsa2048.pem"), "PS256": key("rsa2048.pem"),
    "ES256": key("ec256.pem"), "ES384": key("ec384.pem"),
    "ES512": key("ec521.pem"), "EdDSA": key("ed25519.pem"),
}


def token(alg="HS256", payload=None, headers=None, k=None):
    """A token as PyJWT makes it."""
    if payload is None:
        payload = claims()
    return jwt.encode(payload, k if k is not None else PRIVATE.get(alg),
                      algorithm=alg, headers=headers)


def raw(header, payload, alg="HS256", k=None):
    """A token from header and payload texts, signed by PyJWT's algorithm
    objects: for headers and payloads jwt.encode will not write."""
    if not isinstance(header, bytes):
        header = header.encode()
    if not isinstance(payload, bytes):
        payload = payload.encode()
    signing = (b64(header) + "." + b64(payload)).encode()
    a = ALGS[alg]
    sig = a.sign(signing, a.prepare_key(k if k is not None
                                        else PRIVATE[alg]))
    return signing.decode() + "." + b64(sig)


def hs_with(secret, header, payload, digest=hashlib.sha256):
    """HMAC with any bytes as the secret, which PyJWT refuses to do with a
    PEM (the algorithm confusion attack needs it)."""
    signing = (b64(header.encode()) + "." + b64(payload.encode())).encode()
    return (signing.decode() + "."
            + b64(hmac.new(secret, signing, digest).digest()))


def std_payload(**extra):
    return json.dumps(claims(**extra), separators=(",", ":"))


def tokens(now=NOW):
    """Every case by name, dated around now: NOW for the unit tests,
    which verify at NOW; t/test_jwt_tokens.py passes the time of day and
    sends them to nginx."""
    global AT
    AT = now
    t = {}

    # 1: each algorithm, valid
    for alg in ("HS256", "HS384", "HS512", "RS256", "RS384", "RS512",
                "ES256", "ES384", "ES512"):
        t[alg] = token(alg)
    t["RS256_KID"] = token("RS256", headers={"kid": "rsa-1"})
    t["HS256_KID"] = token("HS256", headers={"kid": "hs-1"})
    t["AT_JWT"] = token("HS256", headers={"typ": "at+jwt"})
    t["APP_AT_JWT"] = token("HS256", headers={"typ": "application/at+jwt"})
    t["NO_TYP"] = token("HS256", headers={"typ": None})
    t["CLAIMS"] = raw('{"alg":"HS256"}',
                      '{ "sub" : "user-1", "exp": %d,\n'
                      '  "name": "Ren\\u00e9 \\"R\\" \\/ x",\n'
                      '  "https://example.com/claims": '
                      '{"role": "admin", "tenants": [7, 8]},\n'
                      '  "n": 1.5e3, "ok": true, "nil": null }' % (AT + 60))

    # 3: exp
    t["EXP_PAST_BY_LEEWAY_PLUS_1"] = token(payload=claims(exp=AT - 31))
    t["EXP_PAST_BY_LEEWAY_MINUS_1"] = token(payload=claims(exp=AT - 29))
    t["EXP_MISSING"] = token(payload=claims(exp=None))
    t["EXP_STRING"] = token(payload=claims(exp=str(AT + 3600)))
    t["EXP_REAL"] = token(payload=claims(exp=1.9e9))
    t["EXP_REAL_EXPIRED"] = token(payload=claims(exp=AT - 30.5))
    t["EXP_REAL_JUST_VALID"] = token(payload=claims(exp=AT - 29.5))
    t["EXP_HUGE"] = token(payload=claims(exp=10 ** 23))
    t["EXP_MILLISECONDS"] = token(payload=claims(exp=(AT + 3600) * 1000))
    t["EXP_NEGATIVE"] = token(payload=claims(exp=-1))
    t["EXP_BOOL"] = token(payload=claims(exp=True))

    # 4: nbf, iat
    t["NBF_FUTURE_BY_LEEWAY_PLUS_1"] = token(payload=claims(nbf=AT + 31))
    t["NBF_FUTURE_BY_LEEWAY_MINUS_1"] = token(payload=claims(nbf=AT + 29))
    t["NBF_REAL_FUTURE"] = token(payload=claims(nbf=AT + 30.5))
    t["NBF_REAL_JUST_VALID"] = token(payload=claims(nbf=AT + 29.5))
    t["NBF_STRING"] = token(payload=claims(nbf=str(AT)))
    t["IAT_FUTURE"] = token(payload=claims(iat=AT + 3600))
    t["IAT_STRING"] = token(payload=claims(iat="yesterday"))

    # 5: iss, aud
    t["ISS_AUD"] = token(payload=claims(iss=ISSUER, aud="api"))
    t["AUD_ARRAY"] = token(payload=claims(iss=ISSUER, aud=["web", "api"]))
    t["ISS_WRONG"] = token(payload=claims(iss="https://evil.example",
                                          aud="api"))
    t["ISS_MISSING"] = token(payload=claims(aud="api"))
    t["ISS_NOT_STRING"] = token(payload=claims(iss=[ISSUER], aud="api"))
    t["AUD_WRONG"] = token(payload=claims(iss=ISSUER, aud="web"))
    t["AUD_ARRAY_WITHOUT"] = token(payload=claims(iss=ISSUER,
                                                  aud=["web", "app"]))
    t["AUD_ARRAY_NOT_STRINGS"] = token(payload=claims(iss=ISSUER,
                                                      aud=["api", 1]))
    t["AUD_MISSING"] = token(payload=claims(iss=ISSUER))
    t["AUD_ONLY"] = token(payload=claims(aud="api"))

    # 6: alg
    p = std_payload()
    t["NONE"] = jwt.encode(claims(), None, algorithm="none")
    hs = token()
    t["NONE_SIGNED"] = (b64(b'{"alg":"none","typ":"JWT"}') + "."
                        + hs.split(".", 1)[1])
    t["NONE_CAPITAL"] = hs_with(PRIVATE["HS256"],
                                '{"alg":"None","typ":"JWT"}', p)
    t["HS256_LOWER"] = hs_with(PRIVATE["HS256"],
                               '{"alg":"hs256","typ":"JWT"}', p)
    t["ALG_MISSING"] = hs_with(PRIVATE["HS256"], '{"typ":"JWT"}', p)
    t["ALG_NOT_STRING"] = hs_with(PRIVATE["HS256"], '{"alg":["HS256"]}', p)

    # 7: HS/RS confusion: the public key's PEM, or its JWK, as HMAC secret
    pub = key("rsa2048.pub.pem")
    jwk = ALGS["RS256"].to_jwk(
        serialization.load_pem_public_key(pub)).encode()
    t["HS256_WITH_RSA_PEM"] = hs_with(pub, '{"alg":"HS256","typ":"JWT"}', p)
    t["HS256_WITH_RSA_JWK"] = hs_with(jwk, '{"alg":"HS256","typ":"JWT"}', p)
    t["HS256_WITH_RSA_PEM_KID"] = hs_with(
        pub, '{"alg":"HS256","kid":"rsa-1"}', p)

    # 8: signatures
    es = token("ES256")
    h, pl, s = es.split(".")
    r, ss = int.from_bytes(unb64(s)[:32], "big"), \
        int.from_bytes(unb64(s)[32:], "big")
    t["ES256_DER"] = h + "." + pl + "." + b64(encode_dss_signature(r, ss))
    t["ES256_TRUNCATED"] = h + "." + pl + "." + b64(unb64(s)[:-3])
    flipped = bytearray(unb64(s))
    flipped[40] ^= 1
    t["ES256_FLIPPED"] = h + "." + pl + "." + b64(bytes(flipped))
    t["ES256_ZERO"] = h + "." + pl + "." + b64(bytes(64))
    t["ES256_BY_P384_KEY"] = raw('{"alg":"ES256"}', p, "ES384")
    rs = token("RS256")
    h, pl, s = rs.split(".")
    t["RS256_TRUNCATED"] = h + "." + pl + "." + b64(unb64(s)[:-3])
    other = token("RS256", payload=claims(sub="user-2"))
    t["RS256_OTHER_SIGNATURE"] = h + "." + pl + "." + other.split(".")[2]
    t["RS256_OTHER_KEY"] = token("RS256", k=key("rsa2048b.pem"))
    t["RS256_EMPTY_SIGNATURE"] = h + "." + pl + "."
    h, pl, s = hs.split(".")
    t["HS256_OTHER_SIGNATURE"] = (h + "." + pl + "."
                                  + token(payload=claims(sub="user-2"))
                                  .split(".")[2])
    t["HS256_WRONG_SECRET"] = token(k=PRIVATE["HS384"])
    t["HS256_SHORT_SIGNATURE"] = h + "." + pl + "." + b64(unb64(s)[:-6])

    # 9: kid
    t["KID_UNKNOWN"] = token("RS256", headers={"kid": "nobody"})
    t["KID_NOT_STRING"] = raw('{"alg":"RS256","kid":1}', p, "RS256")
    t["HS256_KID_OF_RSA_KEY"] = token("HS256", headers={"kid": "rsa-1"})

    # 10: header tricks
    t["CRIT"] = token(headers={"crit": ["x"], "x": 1})
    t["CRIT_EXP"] = token(headers={"crit": ["exp"]})
    t["TYP_FOO"] = token(headers={"typ": "foo"})
    t["TYP_NOT_STRING"] = raw('{"alg":"HS256","typ":1}', p)
    t["JKU_X5U_JWK"] = token("RS256", headers={
        "jku": "https://evil.example/jwks.json",
        "x5u": "https://evil.example/cert.pem",
        "jwk": json.loads(jwk), "x5c": ["AAAA"]})
    t["ALG_TWICE"] = raw('{"alg":"HS256","alg":"HS256"}', p)
    t["ALG_TWICE_NONE"] = raw('{"alg":"HS256","alg":"none"}', p)
    t["HEADER_ARRAY"] = raw('["HS256"]', p)
    t["HEADER_STRING"] = raw('"HS256"', p)
    t["HEADER_NOT_JSON"] = raw('{"alg":"HS256"', p)
    t["B64_FALSE"] = raw('{"alg":"HS256","b64":false}', p)

    # 11: payload tricks
    t["ROLE_TWICE"] = raw('{"alg":"HS256"}',
                          '{"exp":%d,"role":"admin","role":"user"}'
                          % (AT + 60))
    t["NESTED_TWICE"] = raw('{"alg":"HS256"}',
                            '{"exp":%d,"app":{"role":"admin","role":"x"}}'
                            % (AT + 60))
    t["PAYLOAD_ARRAY"] = raw('{"alg":"HS256"}', '[1]')
    t["PAYLOAD_NOT_JSON"] = raw('{"alg":"HS256"}', '{"exp":1')
    t["PAYLOAD_BAD_UTF8"] = raw('{"alg":"HS256"}',
                                b'{"exp":%d,"sub":"\xff"}' % (AT + 60))

    # 13: exactly 8192 bytes, the default maximum
    base = token(payload=claims(pad=""))
    pad = "x" * ((8192 - len(base)) * 3 // 4)
    while len(token(payload=claims(pad=pad))) < 8192:
        pad += "x"
    t["SIZE_8192"] = token(payload=claims(pad=pad))

    # 14: algorithms libjwt 1.10 and this module do not verify
    t["PS256"] = token("PS256")
    t["EDDSA"] = token("EdDSA")

    return t


PEMS = {
    "HS256_SECRET": "hs256.key", "HS384_SECRET": "hs384.key",
    "HS512_SECRET": "hs512.key", "HS_SHORT_SECRET": "hs_short.key",
    "RSA_PUB": "rsa2048.pub.pem", "RSA_CERT": "rsa2048.crt",
    "RSA_PKCS1": "rsa2048.pkcs1.pem", "RSA_PRIVATE": "rsa2048.pem",
    "RSA_B_PUB": "rsa2048b.pub.pem", "RSA1024_PUB": "rsa1024.pub.pem",
    "EC256_PUB": "ec256.pub.pem", "EC384_PUB": "ec384.pub.pem",
    "EC521_PUB": "ec521.pub.pem",
    "EC256_EXPLICIT_PUB": "ec256.explicit.pub.pem",
    "ED25519_PUB": "ed25519.pub.pem",
}


def c_string(name, value):
    """#define name "..." in lines of at most 80 columns."""
    if isinstance(value, bytes):
        value = value.decode()
    out = ["#define %s \\" % name]
    esc = (value.replace("\\", "\\\\").replace('"', '\\"')
           .replace("\n", "\\n"))
    while esc:
        cut = 72
        # never cut an escape in two
        while esc[:cut].endswith("\\") and not esc[:cut].endswith("\\\\"):
            cut -= 1
        out.append('    "%s"%s' % (esc[:cut], " \\" if esc[cut:] else ""))
        esc = esc[cut:]
    return "\n".join(out)


def write_header(t):
    lines = [
        "/*",
        " * Generated by t/unit/jwt_tokens.py: test-only keys (t/unit/keys)",
        " * and tokens made with them by PyJWT %s.  Do not edit." %
        jwt.__version__,
        " */",
        "",
        "#ifndef JWT_TOKENS_H",
        "#define JWT_TOKENS_H",
        "",
        "/* the time the tokens are verified at, 2027-01-15T08:00:00Z */",
        "#define NOW  %dLL" % NOW,
        "#define ISSUER  \"%s\"" % ISSUER,
        "",
    ]
    for name, f in PEMS.items():
        lines += [c_string(name, key(f)), ""]
    for name, value in t.items():
        lines += [c_string("T_" + name, value), ""]
    lines += ["#endif /* JWT_TOKENS_H */", ""]
    with open(os.path.join(HERE, "jwt_tokens.h"), "w") as f:
        f.write("\n".join(lines))


def write_corpus(t):
    """Seeds for t/fuzz/fuzz_jwt.c: its first byte picks the mode (see
    there): 0 a token as is, 1 header and payload JSON to sign."""
    d = os.path.join(ROOT, "t", "fuzz", "corpus", "jwt")
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))
    for name, value in t.items():
        if name in ("SIZE_8192",):
            continue
        with open(os.path.join(d, name.lower()), "wb") as f:
            f.write(b"\x00" + value.encode())
        # the header and payload texts as such, for the signing mode
        parts = value.split(".")
        if len(parts) == 3 and parts[0] and parts[1]:
            try:
                h, p = unb64(parts[0]), unb64(parts[1])
            except ValueError:
                continue
            with open(os.path.join(d, name.lower() + ".json"), "wb") as f:
                f.write(b"\x01" + h + b"\x00" + p)


def main():
    t = tokens()
    write_header(t)
    write_corpus(t)


if __name__ == "__main__":
    main()
