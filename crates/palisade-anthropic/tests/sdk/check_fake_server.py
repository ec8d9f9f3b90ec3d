"""Drives the fake Anthropic server with the official `anthropic` Python SDK.

Run by tests/python_sdk.rs: argv = base URL, API key, model id, the id of a
model whose every call is overloaded (529), the id of a throttled model
(429). Prints one line per check and exits non-zero on the first failure.
"""

import sys

import anthropic

base_url, key, model, overloaded_model, throttled_model = sys.argv[1:6]
client = anthropic.Anthropic(api_key=key, base_url=base_url, max_retries=0)
user = {"role": "user", "content": "Hi"}


def check(name, cond, detail=""):
    if not cond:
        print(f"FAIL {name}: {detail}")
        sys.exit(1)
    print(f"ok {name}")


raw = client.messages.with_raw_response.create(model=model, max_tokens=64, messages=[user])
msg = raw.parse()
check("create: text", msg.content[0].text == "hello from the fake", msg)
check("create: usage", msg.usage.input_tokens > 0 and msg.usage.output_tokens > 0, msg.usage)
check("create: stop_reason", msg.stop_reason == "end_turn", msg.stop_reason)
check("create: rate-limit headers", raw.headers.get("anthropic-ratelimit-requests-limit") is not None, raw.headers)
check("create: request-id", (raw.headers.get("request-id") or "").startswith("req_"), raw.headers)

with client.messages.stream(model=model, max_tokens=64, messages=[user]) as stream:
    text = "".join(stream.text_stream)
    final = stream.get_final_message()
check("stream: text", text == "streamed by the fake", text)
check("stream: final message", final.stop_reason == "end_turn" and final.usage.output_tokens > 0, final)

tools = [{
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}]
first = client.messages.create(model=model, max_tokens=64, tools=tools, messages=[user])
uses = [b for b in first.content if b.type == "tool_use"]
check("tools: tool_use", first.stop_reason == "tool_use" and uses and uses[0].input == {"city": "Paris"}, first)
second = client.messages.create(
    model=model,
    max_tokens=64,
    tools=tools,
    messages=[
        user,
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": uses[0].id, "content": "sunny"}]},
    ],
)
check("tools: round trip", second.content[0].text == "sunny in Paris", second)

with client.messages.stream(model=model, max_tokens=64, tools=tools, messages=[user]) as stream:
    streamed = stream.get_final_message()
streamed_uses = [b for b in streamed.content if b.type == "tool_use"]
check("tools: streamed input_json_delta", streamed_uses and streamed_uses[0].input == {"city": "Paris"}, streamed)

try:
    client.messages.create(
        model=model,
        max_tokens=64,
        messages=[{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_x", "content": "1"}]}],
    )
    check("validation: orphan tool_result", False, "accepted")
except anthropic.BadRequestError as e:
    check("validation: orphan tool_result", e.status_code == 400 and e.body["error"]["type"] == "invalid_request_error", e.body)

try:
    client.messages.create(model=overloaded_model, max_tokens=64, messages=[user])
    check("529", False, "accepted")
except anthropic.APIStatusError as e:
    check("529 overloaded_error", e.status_code == 529 and e.body["error"]["type"] == "overloaded_error", e)

try:
    client.messages.create(model=throttled_model, max_tokens=64, messages=[user])
    check("429", False, "accepted")
except anthropic.RateLimitError as e:
    check("429 rate_limit_error with retry-after", e.response.headers.get("retry-after") == "2", e.response.headers)

try:
    anthropic.Anthropic(api_key="wrong", base_url=base_url, max_retries=0).messages.create(
        model=model, max_tokens=64, messages=[user]
    )
    check("401", False, "accepted")
except anthropic.AuthenticationError as e:
    check("401 authentication_error", e.status_code == 401, e)

print("ALL OK")
