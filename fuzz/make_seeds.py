#!/usr/bin/env python3
"""Writes the hand-made seed inputs of every fuzz target into fuzz/seeds/<target>/.

Run it after changing an input layout (see the doc comment at the top of each
fuzz_targets/*.rs); the seeds are tracked, the working corpora in fuzz/corpus/ are not.
Standard library only. The constants mirror fuzz/src/lib.rs.
"""

import base64
import hashlib
import hmac
import json
import shutil
import struct
from pathlib import Path

NOW = 1_700_000_000
HS256_SECRET = b"fuzz-hs256-secret-0123456789abcdef"
ES256_X = "aIGHxlo9xYq87UQR-RpXGhrRv8TMzlAyKBVWt2DXa4g"
ES256_Y = "UUoi9RS9creQpcSSMeXEwydnM44Yco0imS9z-yzphk8"
FF = b"\xff"
SEEDS = Path(__file__).resolve().parent / "seeds"


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def j(v) -> bytes:
    return json.dumps(v, separators=(",", ":")).encode()


def hs256_token(header: dict, claims: dict) -> str:
    msg = f"{b64url(j(header))}.{b64url(j(claims))}"
    sig = hmac.new(HS256_SECRET, msg.encode(), hashlib.sha256).digest()
    return f"{msg}.{b64url(sig)}"


def i16s(*values: int) -> bytes:
    return b"".join(struct.pack("<h", v) for v in values)


CLAIMS = {"sub": "user-1", "exp": NOW + 3600, "role": "authenticated", "app_metadata": {"tenant_id": "t1"}}
STRICT = {
    "sub": "user-1",
    "exp": NOW + 3600,
    "nbf": NOW - 10,
    "iss": "https://fuzz.supabase.co/auth/v1",
    "aud": ["authenticated"],
    "org_id": "acme-corp",
}


def seeds():
    out = {}
    hs = {"alg": "HS256", "typ": "JWT"}
    es = {"alg": "ES256", "typ": "JWT", "kid": "es1"}
    out["jwt_authenticate"] = {
        "raw_valid_hs256": b"\x00" + f"Bearer {hs256_token(hs, CLAIMS)}".encode(),
        "raw_valid_asserted": b"\x80" + f"bearer  {hs256_token(hs, CLAIMS)} ".encode() + FF + b" t1 ",
        "raw_alg_none": b"\x00" + f"Bearer {b64url(j({'alg': 'none'}))}.{b64url(j(CLAIMS))}.".encode(),
        "raw_rs256_junk": b"\x00" + f"Bearer {b64url(j({'alg': 'RS256', 'kid': 'rs1'}))}.{b64url(j(CLAIMS))}.AAAA".encode(),
        "raw_basic": b"\x00Basic dXNlcjpwYXNz",
        "hs256_valid": b"\x01" + j(hs) + FF + j(CLAIMS),
        "hs256_mismatch": b"\x81" + j(hs) + FF + j(CLAIMS) + FF + b"t2",
        "hs256_expired": b"\x01" + j(hs) + FF + j({**CLAIMS, "exp": NOW - 100}),
        "hs256_float_times": b"\x01" + j(hs) + FF + j({**CLAIMS, "exp": NOW + 0.5, "nbf": 1e300}),
        "hs256_strict": b"\x41" + j(hs) + FF + j(STRICT),
        "es256_valid": b"\x02" + j(es) + FF + j(CLAIMS),
        "es256_strict_asserted": b"\xc2" + j(es) + FF + j(STRICT) + FF + b"acme-corp",
        "es256_unknown_kid": b"\x02" + j({**es, "kid": "nope"}) + FF + j(CLAIMS),
        "es256_as_rs256": b"\x02" + j({"alg": "RS256", "kid": "es1"}) + FF + j(CLAIMS),
    }
    good_ec = {"kty": "EC", "crv": "P-256", "kid": "es1", "x": ES256_X, "y": ES256_Y, "alg": "ES256", "use": "sig"}
    out["jwks_parse"] = {
        "ec_key": b"\x00" + j({"keys": [good_ec]}),
        "ec_key_rs_token": b"\x01" + j({"keys": [good_ec]}),
        "mixed": b"\x00"
        + j(
            {
                "keys": [
                    {"kty": "RSA", "kid": "rs1", "n": b64url(b"\xc5" * 255 + b"\x01"), "e": "AQAB"},
                    {"kty": "EC", "crv": "P-384", "kid": "es1", "x": ES256_X, "y": ES256_Y},
                    {"kty": "oct", "kid": "es1", "k": "c2VjcmV0"},
                    {**good_ec, "use": "enc"},
                    "junk",
                    7,
                ]
            }
        ),
        "empty_keys": b"\x00" + j({"keys": []}),
        "no_keys": b"\x00" + j({"nope": []}),
        "not_json": b"\x00<html>502 Bad Gateway</html>",
    }

    body = b'{"id":"evt_1","type":"customer.subscription.updated"}'
    sig = hmac.new(b"whsec_a", f"{NOW}.".encode() + body, hashlib.sha256).hexdigest()
    out["stripe_signature"] = {
        "valid": b"\x00" + i16s(0, 0, 0) + f"t={NOW},v1={sig}".encode() + FF + body + FF + b"whsec_a",
        "rotation": b"\x10" + i16s(0, 0, 0) + f"t={NOW}, v0={sig} ,v1={sig}".encode() + FF + body + FF + b"whsec_old, whsec_a",
        "stale": b"\x00" + i16s(400, 0, 0) + f"t={NOW},v1={sig}".encode() + FF + body + FF + b"whsec_a",
        "malformed": b"\x08" + i16s(0, -1, 0) + b"t=1,t=2,v1=zz" + FF + body + FF + b"whsec_a\n\n",
    }

    svix_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    key = base64.b64decode(svix_secret[len("whsec_"):])
    svix_sig = base64.b64encode(hmac.new(key, f"msg_1.{NOW}.".encode() + body, hashlib.sha256).digest()).decode()
    out["svix_signature"] = {
        "valid": b"\x00" + i16s(0, 0, 0) + b"msg_1" + FF + str(NOW).encode() + FF + f"v1,{svix_sig}".encode() + FF + body + FF + svix_secret.encode(),
        "rotation": b"\x08" + i16s(-30, 0, 0) + b"msg_1" + FF + str(NOW).encode() + FF + f"v1a,xyz v1,{svix_sig}".encode() + FF + body + FF + svix_secret.encode(),
        "future": b"\x00" + i16s(-400, 0, 0) + b"msg_1" + FF + str(NOW).encode() + FF + f"v1,{svix_sig}".encode() + FF + body + FF + svix_secret.encode(),
        "bad_secret": b"\x00" + i16s(0, 0, 0) + b"msg_1" + FF + b"01700000000" + FF + b"v1,AAAA" + FF + body + FF + b"whsec_!!",
    }

    bh_body = b'{"type":"repo.commit","data":{"ref":"main"}}'
    bh_sig = hmac.new(b"s3cr3t", bh_body, hashlib.sha256).hexdigest()
    out["basehub_signature"] = {
        "valid": bh_sig.encode() + FF + bh_body + FF + b"bshb_workflow_1:s3cr3t",
        "upper_spaced": f"  {bh_sig.upper()}\n".encode() + FF + bh_body + FF + b"s3cr3t",
        "lost_secret": bh_sig.encode() + FF + bh_body + FF + b"bshb_workflow_1",
    }

    def sse(*chunks, done=True, crlf=False):
        nl = "\r\n" if crlf else "\n"
        text = "".join(f"data: {json.dumps(c)}{nl}{nl}" for c in chunks)
        if done:
            text += f"data: [DONE]{nl}{nl}"
        return text.encode()

    delta = lambda d, fr=None: {"id": "c1", "choices": [{"index": 0, "delta": d, "finish_reason": fr}]}
    out["openai_stream"] = {
        "text": b"\x40\xa0\x01"
        + b": ping\n\n"
        + sse(delta({"role": "assistant", "content": "Hel"}), delta({"content": "lo"}), delta({}, "stop"), {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}}),
        "tools": b"\x10\xf0\x00"
        + sse(
            delta({"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "search", "arguments": ""}}]}),
            delta({"tool_calls": [{"index": 0, "function": {"arguments": '{"q":'}}]}),
            delta({"tool_calls": [{"index": 1, "function": {"arguments": {"x": 1}}}, {"index": 0, "function": {"arguments": '"a"}'}}]}),
            delta({"tool_calls": [{"index": 1, "function": {"name": "lookup"}}]}, "tool_calls"),
            crlf=True,
        ),
        "error_event": b"\x00\x80\x00event: error\ndata: {\"error\":{\"message\":\"overloaded\"}}\n\n",
        "error_chunk": b"\x20\x40\x01" + sse({"error": {"message": "x" * 300}}, done=False),
        "truncated": b"\x00\x00\x00" + sse(delta({"content": "partial"}), done=False)[:-1],
    }

    def named(*events, crlf=False):
        nl = "\r\n" if crlf else "\n"
        return "".join(
            (f"event: {name}{nl}" if name else "") + f"data: {data if isinstance(data, str) else j(data).decode()}{nl}{nl}"
            for name, data in events
        ).encode()

    def typed(kind, **fields):
        return (kind, {"type": kind, **fields})

    usage = {"input_tokens": 25, "output_tokens": 1, "cache_read_input_tokens": 0}
    start = typed("message_start", message={"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude-x", "stop_reason": None, "stop_sequence": None, "usage": usage})
    text_block = [
        typed("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        typed("ping"),
        typed("content_block_delta", index=0, delta={"type": "text_delta", "text": "Let me "}),
        typed("content_block_delta", index=0, delta={"type": "text_delta", "text": "look."}),
        typed("content_block_stop", index=0),
    ]
    tool_block = [
        typed("content_block_start", index=1, content_block={"type": "tool_use", "id": "toolu_1", "name": "search", "input": {}}),
        typed("content_block_delta", index=1, delta={"type": "input_json_delta", "partial_json": ""}),
        typed("content_block_delta", index=1, delta={"type": "input_json_delta", "partial_json": '{"q": "ref'}),
        typed("content_block_delta", index=1, delta={"type": "input_json_delta", "partial_json": 'unds"}'}),
        typed("content_block_stop", index=1),
    ]
    def stop(reason):
        return typed("message_delta", delta={"stop_reason": reason, "stop_sequence": None}, usage={"output_tokens": 42})
    overloaded = typed("error", error={"type": "overloaded_error", "message": "Overloaded"})
    out["anthropic_stream"] = {
        "text_and_tool": b"\x40\xa0\x01" + b": keep-alive\n\n" + named(start, *text_block, *tool_block, stop("tool_use"), typed("message_stop")),
        "text_crlf": b"\x10\xf0\x00" + named(start, *text_block, stop("end_turn"), typed("message_stop"), crlf=True),
        "unnamed": b"\x20\x80\x00" + named(*(("", data) for _, data in [start, *tool_block, stop("max_tokens"), typed("message_stop")])),
        "thinking": b"\x00\x60\x00"
        + named(
            start,
            typed("content_block_start", index=0, content_block={"type": "thinking", "thinking": ""}),
            typed("content_block_delta", index=0, delta={"type": "thinking_delta", "thinking": "hm"}),
            typed("content_block_delta", index=0, delta={"type": "signature_delta", "signature": "c2ln"}),
            typed("content_block_stop", index=0),
            typed("content_block_start", index=1, content_block={"type": "tool_use", "id": "toolu_2", "name": "get", "input": {"id": 7}}),
            typed("content_block_stop", index=1),
            stop("refusal"),
            ("message_stop", ""),
        ),
        "error_mid_stream": b"\x30\x90\x01" + named(start, *text_block[:3], overloaded, typed("message_stop")),
        "error_not_json": b"\x00\x80\x00" + named(("error", "upstream connect error " + "x" * 300)),
        "no_stop": b"\x00\x00\x00" + named(start, *text_block, stop("pause_turn")),
        "truncated": b"\x80\x80\x00" + named(start, *text_block[:3])[:-1],
        "nulls": b"\x00\x40\x00"
        + named(
            ("message_start", {"message": None}),
            ("content_block_start", {"index": None, "content_block": None}),
            ("content_block_delta", {"index": 2**40, "delta": {"type": "input_json_delta", "partial_json": None}}),
            ("message_delta", {"delta": None, "usage": {"output_tokens": None}}),
            ("message_stop", "not json"),
        ),
    }

    out["upstash_decode"] = {
        "single_ok": b"\x00" + j({"result": "OK"}),
        "single_str": b"\x00" + j({"result": "aGVsbG8="}),
        "single_error": b"\x00" + j({"error": "WRONGTYPE Operation against a key holding the wrong kind of value"}),
        "batch": b"\x01" + j([{"result": 1}, {"result": ["YQ==", None, 2, ["T0s="]]}, {"error": "ERR no such key"}, {"result": 1.5}]),
        "value_nested": b"\x82" + j([["AAE=", -9223372036854775808, 18446744073709551615, True], None]),
    }

    md = (
        "# Guide\n\nIntro paragraph with some words.\n\n## Install\n\n- step one\n- step two\n\n"
        "```sh\ncargo build --release\n```\n\n### Linux\n\nUse the package manager. Ünïcödé e\u0301 👩‍👩‍👧 text.\r\n"
    )
    html = (
        "<!doctype html><html><head><title>T</title><style>p{}</style><script>alert(1)</script></head>"
        "<body><h1>Title</h1><p>One &amp; two &lt;b&gt; &#x1F600;</p><ul><li>a<li>b</ul>"
        "<table><tr><td>x<td>y</table><pre>  code\n  more</pre><!-- c --><svg><text>no</text></svg></body></html>"
    )
    out["chunking"] = {
        "markdown": bytes([0x81, 20, 40, 8]) + md.encode(),
        "text": bytes([0x00, 10, 16, 4]) + b"\xef\xbb\xbf  para one\n\n\n\n\npara two   \r\nline\x0bthree\xe2\x80\xa8four\n",
        "html": bytes([0x82, 30, 60, 10]) + html.encode(),
        "tiny_sizes": bytes([0x01, 0, 0, 0]) + "a\u0301b\u0302 c".encode(),
    }

    doc = {
        "externalId": "doc-1",
        "title": "Refund policy",
        "content": "# Refunds\n\nWithin 30 days.",
        "contentType": "markdown",
        "source": {"kind": "upload", "url": "https://example.com/refunds"},
        "tags": ["policy", "billing"],
        "metadata": {"lang": "en", "nested": {"a": [1, 2]}},
    }
    out["validation"] = {
        "document": b"\x00" + j(doc),
        "document_invalid": b"\x00" + j({**doc, "title": "", "tags": [" x"], "contentType": "pdf"}),
        "batch": b"\x01" + j({"documents": [doc, {**doc, "content": "<p>hi</p>", "contentType": "html"}]}),
        "batch_bad_items": b"\x01" + j({"documents": [doc, {"title": 3}, {**doc, "metadata": {"a": {"b": {"c": {"d": {"e": 1}}}}}}]}),
        "run_input": b"\x02"
        + j(
            {
                "threadId": "th_1",
                "runId": "run:1",
                "messages": [
                    {"role": "user", "id": "m1", "content": "hello"},
                    {"role": "assistant", "id": "m2", "toolCalls": [{"id": "c1", "type": "function", "function": {"name": "search", "arguments": "{}"}}]},
                    {"role": "tool", "id": "m3", "content": "[]", "toolCallId": "c1"},
                ],
                "tools": [{"name": "confirm", "description": "ask", "parameters": {"type": "object"}}],
                "context": [],
                "state": {},
                "forwardedProps": {},
            }
        ),
        "not_json": b"\x02{\"threadId\": ",
        "not_utf8": b"\x00{\"title\": \"\xc3\x28\"}",
    }
    return out


def main():
    for target, files in seeds().items():
        folder = SEEDS / target
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
        print(f"{target}: {len(files)} seeds")


if __name__ == "__main__":
    main()
