#!/usr/bin/env python3
"""Writes examples/plan_trace.jsonl, the sample trace of `palisade plan --trace`.

Deterministic: one seeded generator, and only `random()` draws (whose
sequence Python keeps stable across versions), so running it again writes
the same bytes.

The workload: 30 minutes of an application with two Bedrock models.

* anthropic.claude-sonnet-4-5 (output burndown 5): a chat feature, Poisson at
  8 requests a minute; prompts log-normal around 1,800 tokens, of which a
  1,200-token system prompt is read from the prompt cache on 70% of calls and
  written to it on the rest; answers log-normal around 350 tokens under
  max_tokens 1,024.
* anthropic.claude-haiku-4-5: a classifier, Poisson at 4 requests a minute;
  prompts around 600 tokens, answers around 120 under max_tokens 512.
* The bursty minute: from minute 12 to 13 a batch job sends 60 more Sonnet
  requests (prompts around 3,000 tokens, answers around 600, max_tokens
  2,048) on top of the chat traffic.

Run: python3 examples/plan_trace.py > examples/plan_trace.jsonl
"""

import json
import math
import random

SEED = 18
MINUTES = 30
SONNET = "anthropic.claude-sonnet-4-5"
HAIKU = "anthropic.claude-haiku-4-5"

rng = random.Random(SEED)


def exponential(mean):
    return -mean * math.log(1.0 - rng.random())


def normal():
    # Box-Muller from two uniform draws.
    u1, u2 = 1.0 - rng.random(), rng.random()
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def log_normal(median, sigma, low, high):
    return max(low, min(high, round(median * math.exp(sigma * normal()))))


def poisson_times(per_minute, start, end):
    t = start + exponential(60.0 / per_minute)
    while t < end:
        yield t
        t += exponential(60.0 / per_minute)


def sonnet_chat(ts):
    cached = 1200
    fresh = log_normal(600, 0.6, 50, 20000)
    line = {
        "ts": ts,
        "model": SONNET,
        "input_tokens": fresh,
        "output_tokens": log_normal(350, 0.6, 1, 1024),
        "max_tokens": 1024,
    }
    if rng.random() < 0.7:
        line["cache_read_tokens"] = cached
    else:
        line["cache_write_tokens"] = cached
    return line


def sonnet_batch(ts):
    return {
        "ts": ts,
        "model": SONNET,
        "input_tokens": log_normal(3000, 0.4, 100, 50000),
        "output_tokens": log_normal(600, 0.5, 1, 2048),
        "max_tokens": 2048,
    }


def haiku(ts):
    return {
        "ts": ts,
        "model": HAIKU,
        "input_tokens": log_normal(600, 0.5, 20, 20000),
        "output_tokens": log_normal(120, 0.5, 1, 512),
        "max_tokens": 512,
    }


def main():
    end = MINUTES * 60.0
    lines = [sonnet_chat(t) for t in poisson_times(8.0, 0.0, end)]
    lines += [haiku(t) for t in poisson_times(4.0, 0.0, end)]
    lines += [sonnet_batch(12 * 60.0 + rng.random() * 60.0) for _ in range(60)]
    lines.sort(key=lambda line: line["ts"])
    for line in lines:
        line["ts"] = round(line["ts"], 3)
        print(json.dumps(line))


if __name__ == "__main__":
    main()
