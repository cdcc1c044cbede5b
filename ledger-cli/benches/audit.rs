//! Benchmark of `ledger audit --bundle` (the real release binary) over generated bundles of
//! 10^4, 10^5 and 10^6 events, beside raw `ed25519_dalek::verify_batch` on the same signatures
//! on 2 threads in the same run, with the ratio of the two rates.
//!
//! Run: `cargo bench -p ledger-cli --bench audit` (sizes from `AUDIT_BENCH_SIZES`, e.g.
//! `10000,100000`). Bundles are generated once (not timed) and kept in
//! `target/audit-bench/`; delete them to regenerate. The audit's time is the wall time of the
//! whole process: reading and parsing the file, decoding, canonical checks, every signature,
//! the rules and the Merkle root. The baseline times only `verify_batch` calls, in chunks of
//! [`RAW_CHUNK_SIGNATURES`], over messages and keys prepared beforehand.

#[allow(dead_code)]
#[path = "../src/bundle.rs"]
mod bundle;
#[path = "audit/generate.rs"]
mod generate;

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use ed25519_dalek::{Signature, VerifyingKey};
use proto::dsse::Envelope;
use proto::KeyId;

use crate::bundle::{parse_event_line, BundleReader};

/// Sizes benchmarked unless `AUDIT_BENCH_SIZES` says otherwise.
const SIZES_DEFAULT: [u64; 3] = [10_000, 100_000, 1_000_000];
/// Signatures per raw `verify_batch` call (the fastest of 64, 256 and 1024 on the bench
/// machine).
const RAW_CHUNK_SIGNATURES: usize = 256;
/// Threads of the raw baseline, as many as the audit's workers.
const RAW_THREADS: usize = 2;
/// Events whose signatures are prepared, then verified and timed, at once.
const RAW_BLOCK_EVENTS: usize = 65_536;
/// Bumped when the generator changes, so that cached bundles are regenerated.
const GENERATOR_VERSION: u32 = 1;

fn main() -> Result<()> {
    let ledger = PathBuf::from(env!("CARGO_BIN_EXE_ledger"));
    let dir = target_dir().join("audit-bench");
    fs::create_dir_all(&dir)?;
    println!("audit benchmark: {}", ledger.display());
    for size in sizes()? {
        let (path, vkey) = bundle_for(size, &dir)?;
        let runs = if size <= 100_000 { 3 } else { 1 };
        let (audit, peak_kib) = time_audit(&ledger, &path, &vkey, runs)?;
        let (signatures, raw) = time_raw(&path)?;
        report(size, signatures, audit, raw, peak_kib);
    }
    Ok(())
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

fn sizes() -> Result<Vec<u64>> {
    match std::env::var("AUDIT_BENCH_SIZES") {
        Ok(list) => list
            .split(',')
            .map(|s| {
                s.trim()
                    .parse()
                    .with_context(|| format!("AUDIT_BENCH_SIZES: {s:?}"))
            })
            .collect(),
        Err(_) => Ok(SIZES_DEFAULT.to_vec()),
    }
}

/// The cached bundle of `size` events and its checkpoint key, generated if missing.
fn bundle_for(size: u64, dir: &Path) -> Result<(PathBuf, String)> {
    let path = dir.join(format!("bundle-v{GENERATOR_VERSION}-{size}.jsonl"));
    let key_path = path.with_extension("vkey");
    if let (true, Ok(vkey)) = (path.exists(), fs::read_to_string(&key_path)) {
        return Ok((path, vkey));
    }
    let started = Instant::now();
    let partial = path.with_extension("partial");
    let vkey = generate::write(size, &partial, &path.with_extension("events"))?;
    fs::rename(&partial, &path)?;
    fs::write(&key_path, &vkey)?;
    println!(
        "generated {} in {:.1} s (not timed)",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok((path, vkey))
}

/// The best wall time of `runs` runs of `ledger audit --bundle`, and the peak resident memory
/// seen (KiB).
fn time_audit(ledger: &Path, bundle: &Path, vkey: &str, runs: usize) -> Result<(Duration, u64)> {
    let mut best = Duration::MAX;
    let mut peak_kib = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let mut child = Command::new(ledger)
            .args(["--json", "--no-progress", "audit", "--bundle"])
            .arg(bundle)
            .args(["--trust", vkey])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            peak_kib = peak_kib.max(peak_resident_kib(child.id()).unwrap_or(0));
            std::thread::sleep(Duration::from_millis(20));
        };
        let elapsed = started.elapsed();
        let stderr = child.wait_with_output()?.stderr;
        ensure!(
            status.success(),
            "ledger audit failed ({status}): {}",
            String::from_utf8_lossy(&stderr)
        );
        best = best.min(elapsed);
    }
    Ok((best, peak_kib))
}

/// `VmHWM` of a running process, from /proc (Linux only).
fn peak_resident_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One signature to verify: the PAE signed, the signature and the key.
type Check = (Vec<u8>, Signature, VerifyingKey);

/// The number of signatures of the bundle and the time `verify_batch` takes on them.
fn time_raw(bundle: &Path) -> Result<(usize, Duration)> {
    let (head, mut reader) = BundleReader::open(BufReader::new(File::open(bundle)?))?;
    let mut keys = HashMap::new();
    for key in &head.keys {
        keys.insert(KeyId::of(key), VerifyingKey::from_bytes(key.as_bytes())?);
    }
    let (mut signatures, mut total) = (0, Duration::ZERO);
    while let Some(chunk) = reader.next_chunk(RAW_BLOCK_EVENTS)? {
        let mut checks: Vec<Check> = Vec::new();
        for (line, index, bytes) in chunk.lines() {
            let envelope = Envelope::decode(parse_event_line(bytes, line, index)?)
                .map_err(|e| anyhow!("{e}"))?;
            for signature in envelope.signatures() {
                let key = keys
                    .get(signature.keyid())
                    .context("a signer missing from the key lines")?;
                checks.push((envelope.pae(), Signature::from_bytes(signature.sig()), *key));
            }
        }
        let started = Instant::now();
        verify_on_threads(&checks)?;
        total += started.elapsed();
        signatures += checks.len();
    }
    Ok((signatures, total))
}

fn verify_on_threads(checks: &[Check]) -> Result<()> {
    let run = checks.len().div_ceil(RAW_THREADS).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = checks
            .chunks(run)
            .map(|part| scope.spawn(move || verify_part(part)))
            .collect();
        for handle in handles {
            handle
                .join()
                .map_err(|_| anyhow!("a verify thread panicked"))??;
        }
        Ok(())
    })
}

fn verify_part(checks: &[Check]) -> Result<()> {
    for chunk in checks.chunks(RAW_CHUNK_SIGNATURES) {
        let messages: Vec<&[u8]> = chunk.iter().map(|c| c.0.as_slice()).collect();
        let signatures: Vec<Signature> = chunk.iter().map(|c| c.1).collect();
        let keys: Vec<VerifyingKey> = chunk.iter().map(|c| c.2).collect();
        if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_err() {
            bail!("verify_batch refused a generated signature");
        }
    }
    Ok(())
}

fn report(size: u64, signatures: usize, audit: Duration, raw: Duration, peak_kib: u64) {
    let audit_rate = size as f64 / audit.as_secs_f64();
    let raw_rate = size as f64 / raw.as_secs_f64();
    println!(
        "{size:>9} events, {signatures:>9} signatures | ledger audit {:>7.2} s = {:>8.0} events/s, \
         peak RSS {:>4} MiB | raw verify_batch x{RAW_THREADS} {:>7.2} s = {:>8.0} events/s \
         ({:>8.0} sig/s) | ratio {:.2}",
        audit.as_secs_f64(),
        audit_rate,
        peak_kib / 1024,
        raw.as_secs_f64(),
        raw_rate,
        signatures as f64 / raw.as_secs_f64(),
        audit_rate / raw_rate
    );
}
