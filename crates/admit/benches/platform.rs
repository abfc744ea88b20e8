//! The platform benchmark: crypto floor, admission over HTTPS with a real load generator
//! (`wrk`), store scale on SQLite and PostgreSQL, and server memory — every figure from one run
//! and given as a ratio to the P-256 verify rate measured in that run.
//!
//! Run: `cargo bench -p admit --bench platform` (needs `wrk`, `openssl`, `curl`, and PostgreSQL
//! on 127.0.0.1:5432 for the PostgreSQL rows). Knobs: ADMIT_BENCH_SECONDS (per wrk run,
//! default 5), ADMIT_BENCH_MAX (largest store size, default 1000000), ADMIT_BENCH_BACKENDS
//! (default `sqlite,postgres`; empty for none), ADMIT_BENCH_SERVERS (default `warm,cold`),
//! ADMIT_BENCH_PERF (a CPU profile of the server during the rows at concurrency
//! ADMIT_BENCH_PERF_CONC, default 16).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a bench binary: set-up failures abort, results go to stdout"
)]

mod platform_support;
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use platform_support::*;

fn main() {
    let secs: u64 = env_or("ADMIT_BENCH_SECONDS", 5);
    let max: usize = env_or("ADMIT_BENCH_MAX", 1_000_000);
    let backends =
        std::env::var("ADMIT_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let servers = std::env::var("ADMIT_BENCH_SERVERS").unwrap_or_else(|_| "warm,cold".into());
    let perf_conc: u32 = env_or("ADMIT_BENCH_PERF_CONC", 16);
    let mut out = Report::default();

    // 1. The crypto floor.
    let floor = crypto_floor(&mut out);

    // 2. Admission over HTTPS on loopback, warm and cold.
    for (label, cache) in [
        ("warm (verified-result cache)", true),
        ("cold (every review verifies)", false),
    ] {
        let wanted = if cache { "warm" } else { "cold" };
        if !servers.split(',').any(|s| s.trim() == wanted) {
            continue;
        }
        let server = BenchServer::start(cache);
        let fixture = server.populate_admission_fixture();
        let idle = server.rss_kib();
        if cache {
            // The protocol floor on these cores: TLS + HTTP on the same listener, no work.
            let r = wrk(&server.healthz_url(), "", 64, secs);
            out.admission(
                "floor: GET /healthz",
                "TLS + HTTP only",
                64,
                &r,
                floor,
                None,
            );
        }
        for (scenario, body) in [
            ("1 image × 1 attestor", &fixture.one),
            ("10 images × 3 attestors", &fixture.ten),
        ] {
            for c in [1u32, 16, 64] {
                // ADMIT_BENCH_PERF=1: a CPU profile of the server during the rows at
                // ADMIT_BENCH_PERF_CONC.
                let perf = (std::env::var_os("ADMIT_BENCH_PERF").is_some() && c == perf_conc)
                    .then(|| server.perf_record(secs));
                let (records, commits) = server.audit_commits();
                let r = wrk(&server.webhook_url(), body, c, secs);
                let (records_after, commits_after) = server.audit_commits();
                let per_commit = (commits_after > commits)
                    .then(|| (records_after - records) / (commits_after - commits));
                if let Some(p) = perf {
                    out.profile(&format!("{label}, {scenario}, c={c}"), &perf_report(p));
                }
                out.admission(label, scenario, c, &r, floor, per_commit);
            }
        }
        out.memory(label, idle, server.rss_kib(), server.hwm_kib());
        // ADMIT_BENCH_SOAK_SECONDS=600: the warm server under c=16 (about 80% of its best
        // rate) for that long, in 30 s slices: rate, errors and RSS of each.
        let soak: u64 = env_or("ADMIT_BENCH_SOAK_SECONDS", 0);
        if cache && soak > 0 {
            println!("## Soak: warm, 1 image × 1 attestor, c=16, {soak} s\n");
            println!(
                "{:>6} {:>9} {:>8} {:>8} {:>7} {:>9}",
                "t s", "req/s", "p50", "p99", "errors", "RSS MiB"
            );
            let started = Instant::now();
            while started.elapsed().as_secs() < soak {
                let r = wrk(&server.webhook_url(), &fixture.one, 16, 30);
                println!(
                    "{:>6} {:>9.0} {:>8.2} {:>8.2} {:>7} {:>9.1}",
                    started.elapsed().as_secs(),
                    r.rps,
                    r.p50_us / 1000.0,
                    r.p99_us / 1000.0,
                    r.errors,
                    server.rss_kib() as f64 / 1024.0
                );
            }
            println!();
        }
    }

    // 3. Store scale.
    for backend in backends.split(',').map(str::trim).filter(|b| !b.is_empty()) {
        let mut scale = ScaleBench::new(backend);
        let mut first_p99 = None;
        let mut first_probe_p99 = None;
        for size in [10_000usize, 100_000, 1_000_000]
            .into_iter()
            .filter(|s| *s <= max)
        {
            let started = Instant::now();
            scale.grow_to(size);
            let fill = started.elapsed();
            let probe = scale.lookups(2_000, true);
            let lookup = scale.lookups(2_000, false);
            let admission = scale.admissions(1_000);
            let base = *first_p99.get_or_insert(lookup.p99);
            let probe_base = *first_probe_p99.get_or_insert(probe.p99);
            out.scale(
                backend,
                size,
                fill,
                [(&probe, probe_base), (&lookup, base)],
                &admission,
                floor,
            );
        }
    }
    out.print(Duration::from_secs(secs));
}
