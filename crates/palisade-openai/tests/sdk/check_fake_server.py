"""Drives the fake OpenAI-compatible server with the official `openai` Python SDK.

Run by tests/python_sdk.rs: argv = base URL (ending in /v1), API key, model
id, the id of a throttled model (429). Prints one line per check and exits
non-zero on the first failure.
"""

import json
import sys

import openai

base_url, key, model, throttled_model = sys.argv[1:5]
client = openai.OpenAI(api_key=key, base_url=base_url, max_retries=0)
user = {"role": "user", "content": "Hi"}


def check(name, cond, detail=""):
    if not cond:
        print(f"FAIL {name}: {detail}")
        sys.exit(1)
    print(f"ok {name}")


raw = client.chat.completions.with_raw_response.create(model=model, max_tokens=64, messages=[user])
done = raw.parse()
check("completion: object", done.object == "chat.completion", done)
check("completion: text", done.choices[0].message.content == "hello from the fake", done)
check("completion: finish_reason", done.choices[0].finish_reason == "stop", done.choices[0])
check("completion: usage", done.usage.prompt_tokens > 0 and done.usage.completion_tokens > 0, done.usage)
check("completion: x-ratelimit headers", raw.headers.get("x-ratelimit-limit-requests") is not None, raw.headers)
check("completion: x-request-id", (raw.headers.get("x-request-id") or "").startswith("req_"), raw.headers)

chunks = list(
    client.chat.completions.create(
        model=model,
        max_tokens=64,
        messages=[user],
        stream=True,
        stream_options={"include_usage": True},
    )
)
text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
usage = [c.usage for c in chunks if c.usage is not None]
check("stream: text", text == "streamed by the fake", text)
check("stream: finish_reason", finish == ["stop"], finish)
check("stream: include_usage chunk", len(usage) == 1 and not chunks[-1].choices and usage[0].total_tokens > 0, usage)

tools = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}]
first = client.chat.completions.create(model=model, max_tokens=64, tools=tools, messages=[user])
calls = first.choices[0].message.tool_calls or []
check(
    "tools: tool_calls",
    first.choices[0].finish_reason == "tool_calls"
    and len(calls) == 1
    and calls[0].function.name == "get_weather"
    and json.loads(calls[0].function.arguments) == {"city": "Paris"},
    first,
)
second = client.chat.completions.create(
    model=model,
    max_tokens=64,
    tools=tools,
    messages=[
        user,
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": calls[0].id, "content": "sunny"},
    ],
)
check("tools: round trip", second.choices[0].message.content == "sunny in Paris", second)

# A streamed tool call: the SDK's own accumulator assembles the deltas.
with client.chat.completions.stream(model=model, max_tokens=64, tools=tools, messages=[user]) as stream:
    for _ in stream:
        pass
    streamed = stream.get_final_completion()
streamed_calls = streamed.choices[0].message.tool_calls or []
check(
    "tools: streamed tool_call deltas",
    len(streamed_calls) == 1
    and streamed_calls[0].function.name == "get_weather"
    and json.loads(streamed_calls[0].function.arguments) == {"city": "Paris"},
    streamed,
)

try:
    client.chat.completions.create(model=model, max_tokens=64, messages=[user], temperature=7)
    check("validation: temperature", False, "accepted")
except openai.BadRequestError as e:
    check("validation: temperature", e.status_code == 400 and e.body.get("param") == "temperature", e.body)

try:
    client.chat.completions.create(model=throttled_model, max_tokens=64, messages=[user])
    check("429", False, "accepted")
except openai.RateLimitError as e:
    check("429 rate_limit_exceeded with retry-after", e.code == "rate_limit_exceeded" and e.response.headers.get("retry-after") == "2", e.response.headers)

try:
    openai.OpenAI(api_key="wrong", base_url=base_url, max_retries=0).chat.completions.create(
        model=model, max_tokens=64, messages=[user]
    )
    check("401", False, "accepted")
except openai.AuthenticationError as e:
    check("401 invalid_api_key", e.status_code == 401 and e.code == "invalid_api_key", e)

print("ALL OK")
