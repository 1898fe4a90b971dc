#!/usr/bin/python3
"""Writes t/unit/jwk_tokens.h and the fuzzer's seed corpus t/fuzz/corpus/jwk.

Key sets are written here from the test-only keys of t/unit/keys with
python3-cryptography's public numbers (RFC 7518's n, e, x, y), and tokens
signed by PyJWT with the private halves: nothing comes from the code under
test.  ECDSA signatures are random: running this again rewrites every ES
token.

    /usr/bin/python3 t/unit/jwk_tokens.py
"""

import base64
import json
import os

import jwt
from cryptography.hazmat.primitives import serialization

from jwt_tokens import KEYS, NOW, ROOT, HERE, c_string, claims, key

ALGS = jwt.algorithms.get_default_algorithms()


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def uint(n, size=None):
    """Base64urlUInt (RFC 7518 §2): the shortest big-endian bytes, or a
    coordinate's full size."""
    size = size or max(1, (n.bit_length() + 7) // 8)
    return b64(n.to_bytes(size, "big"))


def public(name):
    return serialization.load_pem_public_key(key(name))


def private(name):
    return serialization.load_pem_private_key(key(name), None)


def rsa_jwk(name, **extra):
    pn = public(name).public_numbers()
    j = {"kty": "RSA", "n": uint(pn.n), "e": uint(pn.e)}
    j.update(extra)
    return j


SIZES = {"P-256": 32, "P-384": 48, "P-521": 66}


def ec_jwk(name, crv, **extra):
    pn = public(name).public_numbers()
    j = {"kty": "EC", "crv": crv, "x": uint(pn.x, SIZES[crv]),
         "y": uint(pn.y, SIZES[crv])}
    j.update(extra)
    return j


def jwks(*keys):
    return json.dumps({"keys": list(keys)}, indent=1)


def token(alg, pem, kid=None):
    return jwt.encode(claims(), key(pem), algorithm=alg,
                      headers={"kid": kid} if kid else None)


def good():
    ed = public("ed25519.pub.pem").public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return jwks(
        rsa_jwk("rsa2048.pub.pem", kid="rsa-1", alg="RS256", use="sig"),
        ec_jwk("ec256.pub.pem", "P-256", kid="ec-1"),
        ec_jwk("ec384.pub.pem", "P-384", kid="ec-384", alg="ES384",
               key_ops=["verify"]),
        rsa_jwk("rsa2048b.pub.pem", kid="rsa-2"),
        # skipped: encryption, another algorithm family, no verify
        rsa_jwk("rsa2048b.pub.pem", kid="enc-1", use="enc",
                alg="RSA-OAEP"),
        {"kty": "OKP", "crv": "Ed25519", "x": b64(ed), "kid": "ed-1",
         "alg": "EdDSA"},
        rsa_jwk("rsa2048.pub.pem", kid="ps-1", alg="PS256"),
        ec_jwk("ec521.pub.pem", "P-521", kid="ec-521", alg="ES512",
               x5c=["AAAA"], x5t="AAAA"),
        ec_jwk("ec256.pub.pem", "P-256", kid="wrap-1",
               key_ops=["wrapKey"]))


def bad():
    rsa_priv = private("rsa2048.pem").private_numbers()
    rsa = rsa_jwk("rsa2048.pub.pem", kid="r")
    ec = ec_jwk("ec256.pub.pem", "P-256", kid="e")
    off_curve = dict(ec, y=uint(int.from_bytes(
        base64.urlsafe_b64decode(ec["y"] + "="), "big") ^ 1, 32))
    even = public("rsa2048.pub.pem").public_numbers().n ^ 1
    return {
        "PRIVATE_D": (jwks(dict(rsa, d=uint(rsa_priv.d))), "member \"d\""),
        "PRIVATE_EC_D": (jwks(dict(ec, d="AAAA")), "member \"d\""),
        "OCT": (jwks({"kty": "oct", "k": b64(b"x" * 32), "kid": "h",
                      "alg": "HS256"}), "symmetric"),
        "RSA_1024": (jwks(rsa_jwk("rsa1024.pub.pem", kid="small")),
                     "2048 bits"),
        "ES256_ON_P384": (jwks(ec_jwk("ec384.pub.pem", "P-384", kid="c",
                                      alg="ES256")), "own curve"),
        "RS256_ON_EC": (jwks(dict(ec, alg="RS256")), "needs an RSA key"),
        "HS256_ON_RSA": (jwks(dict(rsa, alg="HS256")), "HS256 on an RSA"),
        "NOT_JSON": ('{"keys": [', "Invalid JSON"),
        "NOT_A_SET": ('[{"kty": "RSA"}]', "not a JSON Web Key Set"),
        "KEYS_NOT_ARRAY": ('{"keys": {}}', "not a JSON Web Key Set"),
        "KEY_NOT_OBJECT": ('{"keys": ["RSA"]}', "keys[0]: not a JSON"),
        "DUPLICATE_KID": (jwks(rsa, dict(ec, kid="r")),
                          "keys[1] (kid \"r\"): a second key"),
        "DUPLICATE_MEMBER": ('{"keys": [{"kty": "RSA", "kty": "EC"}]}',
                             "member twice"),
        "OFF_CURVE": (jwks(off_curve), "not on P-256"),
        "X_SHORT": (jwks(dict(ec, x=ec["x"][:-3])), "32 bytes"),
        "N_EVEN": (jwks(dict(rsa, n=uint(even))), "even"),
        "E_ONE": (jwks(dict(rsa, e="AQ")), "\"e\""),
        "N_PADDED": (jwks(dict(rsa, n=rsa["n"] + "=")), "base64url"),
        "N_MISSING": (jwks({"kty": "RSA", "e": "AQAB"}), "no \"n\""),
        "KTY_MISSING": (jwks({"n": rsa["n"], "e": "AQAB"}), "no \"kty\""),
        "CRV_MISSING": (jwks({"kty": "EC", "x": ec["x"], "y": ec["y"]}),
                        "no \"crv\""),
        "USE_NOT_STRING": (jwks(dict(rsa, use=1)), "\"use\" is not"),
        "KID_NOT_STRING": (jwks(dict(rsa, kid=["r"])), "\"kid\" is not"),
        "KEY_OPS_NOT_ARRAY": (jwks(dict(rsa, key_ops="verify")),
                              "not an array"),
        "EMPTY": (jwks(), "no key to verify"),
        "ALL_SKIPPED": (jwks(dict(rsa, use="enc")),
                        "1 skipped; keys[0] (kid \"r\"): \"use\""),
    }


def write_header(g, b, t):
    lines = [
        "/*",
        " * Generated by t/unit/jwk_tokens.py: key sets written from the",
        " * test-only keys of t/unit/keys, tokens signed by PyJWT %s."
        % jwt.__version__,
        " * Do not edit.",
        " */",
        "",
        "#ifndef JWK_TOKENS_H",
        "#define JWK_TOKENS_H",
        "",
        c_string("JWKS_GOOD", g), "",
    ]
    for name, (text, why) in b.items():
        lines += [c_string("JWKS_" + name, text),
                  c_string("WHY_" + name, why), ""]
    for name, value in t.items():
        lines += [c_string("JT_" + name, value), ""]
    lines += ["/* the bad sets, for a table */",
              "#define JWKS_BAD_LIST \\"]
    lines += ["    { \"%s\", JWKS_%s, WHY_%s }, \\" % (n, n, n) for n in b]
    lines += ["", "#endif /* JWK_TOKENS_H */", ""]
    with open(os.path.join(HERE, "jwk_tokens.h"), "w") as f:
        f.write("\n".join(lines))


def write_corpus(g, b):
    """Seeds for t/fuzz/fuzz_jwk.c: a key set's text as it is."""
    d = os.path.join(ROOT, "t", "fuzz", "corpus", "jwk")
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))
    with open(os.path.join(d, "good"), "w") as f:
        f.write(g)
    for name, (text, _) in b.items():
        with open(os.path.join(d, name.lower()), "w") as f:
            f.write(text)


def main():
    t = {
        "RS256_RSA1": token("RS256", "rsa2048.pem", "rsa-1"),
        "RS256_RSA2": token("RS256", "rsa2048b.pem", "rsa-2"),
        "ES256_EC1": token("ES256", "ec256.pem", "ec-1"),
        "ES384": token("ES384", "ec384.pem", "ec-384"),
        "ES512": token("ES512", "ec521.pem", "ec-521"),
        # refused: a skipped key's kid, the pinned alg, no kid among two
        # RS256 keys, another key's signature
        "RS256_ENC1": token("RS256", "rsa2048b.pem", "enc-1"),
        "PS256_PS1": token("PS256", "rsa2048.pem", "ps-1"),
        "RS384_RSA1": token("RS384", "rsa2048.pem", "rsa-1"),
        "RS256_NO_KID": token("RS256", "rsa2048.pem"),
        "RS256_RSA1_BY_RSA2": token("RS256", "rsa2048b.pem", "rsa-1"),
    }
    g, b = good(), bad()
    write_header(g, b, t)
    write_corpus(g, b)


if __name__ == "__main__":
    main()
