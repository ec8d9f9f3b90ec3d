//! Encode and decode of the shared bench data with palisade-toon, serde_toon,
//! toon-format and serde_json (the speed yardstick), typed structs in and out.
//!
//! Every case is measured twice: in wall time (the `encode/…` and `decode/…`
//! groups) and in the bench thread's CPU time (`cpu/encode/…`, `cpu/decode/…`),
//! which does not count the slices other processes take on a shared machine.
//!
//! Beside the decoders, `decode/…/alloc-floor` clones the decoded data: the
//! allocations (the `Vec` and every `String` field) and byte copies that any
//! decoder into these types must make, with no parsing at all.
//!
//! `cargo bench -p palisade-toon --bench codec -- --warm-up-time 1 --measurement-time 3`
//! — data from `../../../shared/bench-data` relative to this crate; skipped
//! with a message when it is missing.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Repo {
    id: u64,
    name: String,
    repo: String,
    description: String,
    created_at: String,
    updated_at: String,
    pushed_at: String,
    stars: u64,
    watchers: u64,
    forks: u64,
    default_branch: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Employee {
    id: u64,
    name: String,
    email: String,
    department: String,
    salary: u64,
    years_experience: u64,
    active: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Employees {
    employees: Vec<Employee>,
}

fn read(name: &str) -> Option<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/bench-data")
        .join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) => {
            println!("skipping {name}: cannot read {}: {e}", path.display());
            None
        }
    }
}

fn bench_file<T, M>(c: &mut Criterion<M>, prefix: &str, label: &str, file: &str)
where
    T: Serialize + DeserializeOwned + PartialEq + Clone + std::fmt::Debug,
    M: Measurement,
{
    let Some(json) = read(file) else { return };
    let data: T = match serde_json::from_str(&json) {
        Ok(d) => d,
        Err(e) => {
            println!("skipping {file}: {e}");
            return;
        }
    };
    let toon = match palisade_toon::to_string(&data) {
        Ok(t) => t,
        Err(e) => {
            println!("skipping {file}: {e}");
            return;
        }
    };
    let json_compact = serde_json::to_string(&data).unwrap_or_default();
    // Every TOON library must agree on the text and read it back, or the
    // comparison is meaningless.
    if prefix.is_empty() {
        check_agreement(&data, &toon);
    }

    let mut g = c.benchmark_group(format!("{prefix}encode/{label}"));
    g.throughput(Throughput::Bytes(toon.len() as u64));
    g.bench_function("palisade-toon", |b| {
        b.iter(|| palisade_toon::to_string(black_box(&data)));
    });
    g.bench_function("serde_toon", |b| {
        b.iter(|| serde_toon::to_string(black_box(&data)));
    });
    g.bench_function("toon-format", |b| {
        b.iter(|| toon_format::encode_default(black_box(&data)));
    });
    json_bench(&mut g, &json_compact, |b| {
        b.iter(|| serde_json::to_string(black_box(&data)));
    });
    g.finish();

    let mut g = c.benchmark_group(format!("{prefix}decode/{label}"));
    g.throughput(Throughput::Bytes(toon.len() as u64));
    g.bench_function("palisade-toon", |b| {
        b.iter(|| palisade_toon::from_str::<T>(black_box(&toon)));
    });
    g.bench_function("serde_toon", |b| {
        b.iter(|| serde_toon::from_str::<T>(black_box(&toon)));
    });
    g.bench_function("toon-format", |b| {
        b.iter(|| toon_format::decode_default::<T>(black_box(&toon)));
    });
    g.bench_function("alloc-floor", |b| {
        b.iter(|| black_box(&data).clone());
    });
    json_bench(&mut g, &json_compact, |b| {
        b.iter(|| serde_json::from_str::<T>(black_box(&json_compact)));
    });
    g.finish();
}

/// serde_json works on JSON text, so its throughput counts JSON bytes.
fn json_bench<M: Measurement>(
    g: &mut BenchmarkGroup<'_, M>,
    json: &str,
    f: impl FnMut(&mut criterion::Bencher<'_, M>),
) {
    g.throughput(Throughput::Bytes(json.len() as u64));
    g.bench_function("serde_json", f);
}

fn check_agreement<T>(data: &T, toon: &str)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let report = |lib: &str, what: &str| println!("note: {lib} {what}");
    match serde_toon::to_string(data) {
        Ok(t) if t == toon => {}
        Ok(_) => report("serde_toon", "encodes differently from palisade-toon"),
        Err(e) => report("serde_toon", &format!("cannot encode: {e}")),
    }
    match toon_format::encode_default(data) {
        Ok(t) if t == toon => {}
        Ok(_) => report("toon-format", "encodes differently from palisade-toon"),
        Err(e) => report("toon-format", &format!("cannot encode: {e}")),
    }
    match palisade_toon::from_str::<T>(toon) {
        Ok(d) if &d == data => {}
        other => report("palisade-toon", &format!("decode mismatch: {other:?}")),
    }
    match serde_toon::from_str::<T>(toon) {
        Ok(d) if &d == data => {}
        Ok(_) => report("serde_toon", "decodes to different data"),
        Err(e) => report("serde_toon", &format!("cannot decode: {e}")),
    }
    match toon_format::decode_default::<T>(toon) {
        Ok(d) if &d == data => {}
        Ok(_) => report("toon-format", "decodes to different data"),
        Err(e) => report("toon-format", &format!("cannot decode: {e}")),
    }
}

fn benches<M: Measurement>(c: &mut Criterion<M>, prefix: &str) {
    bench_file::<Vec<Repo>, M>(c, prefix, "github-repos", "github-repos.json");
    bench_file::<Employees, M>(c, prefix, "employees-2000", "employees-2000.json");
}

fn wall(c: &mut Criterion) {
    benches(c, "");
}

fn cpu(c: &mut Criterion<ThreadCpuTime>) {
    benches(c, "cpu/");
}

/// The CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`).
struct ThreadCpuTime;

impl Measurement for ThreadCpuTime {
    type Intermediate = cpu_time::ThreadTime;
    type Value = Duration;

    fn start(&self) -> Self::Intermediate {
        cpu_time::ThreadTime::now()
    }
    fn end(&self, start: Self::Intermediate) -> Duration {
        start.elapsed()
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

/// Times in ns, µs or ms; throughput in MB/s (10^6 bytes).
struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (div, unit) = match typical {
            t if t < 1e3 => (1.0, "ns"),
            t if t < 1e6 => (1e3, "µs"),
            _ => (1e6, "ms"),
        };
        values.iter_mut().for_each(|v| *v /= div);
        unit
    }
    fn scale_throughputs(&self, _typical: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let bytes = match *t {
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) | Throughput::Elements(n) => n,
            Throughput::Bits(n) => n / 8,
        } as f64;
        values.iter_mut().for_each(|v| *v = bytes * 1e3 / *v);
        "MB/s"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

criterion_group!(codec_wall, wall);
criterion_group! {
    name = codec_cpu;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = cpu
}
criterion_main!(codec_wall, codec_cpu);
