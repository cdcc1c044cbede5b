//! Strict decoding cost per event, on realistic envelopes of three kinds: a claim with five
//! participants and two evidence items (one signature), a payment of ten lines (one
//! signature) and a registration of seven parties (seven signatures).
//!
//! Measures, per event: `Envelope::decode`, `Envelope::decode_with_jcs` (with the Merkle leaf
//! bytes), `Payload::decode`, `Envelope::to_jcs` (the leaf bytes re-encoded) and the whole
//! chain as `ledger_core::Event::decode` runs it (envelope and leaf bytes, payload). Same-run baselines: one Ed25519 `verify_strict` (what signature checking costs
//! per signature) and `serde_json` skimming the envelope bytes into `IgnoredAny` (the floor of
//! any JSON decoder). After criterion's output it prints each median in microseconds per event
//! and as a ratio to one `verify_strict`.
//! Run: `cargo bench -p proto --bench decode` (about a minute).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::Criterion;
use ed25519_dalek::{SigningKey, Verifier as _};
use proto::dsse::{self, Envelope};
use proto::payload::{
    ClaimSubmitted, ContractRegistered, Evidence, OutcomeDef, Party, PaymentLine, PaymentMade,
    Period, Role, PAYLOAD_TYPE,
};
use proto::{Body, EventId, Int, KeyId, Payload, Pseudonym, PublicKey, Sha256Digest, Timestamp};

/// Median seconds per iteration of each benchmark.
static SAMPLES: Mutex<BTreeMap<String, Vec<f64>>> = Mutex::new(BTreeMap::new());

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn key_id(seed: u8) -> KeyId {
    KeyId::of(&PublicKey::from_bytes(key(seed).verifying_key().to_bytes()))
}

fn int(value: u64) -> Int {
    Int::new(value).unwrap_or(Int::ZERO)
}

fn parse<T: std::str::FromStr>(text: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    match text.parse() {
        Ok(value) => value,
        Err(e) => panic!("bench fixture {text:?} does not parse: {e:?}"),
    }
}

fn payload(seq: u64, author: u8, body: Body) -> Payload {
    Payload {
        contract: parse("homes-first-north"),
        seq: int(seq),
        prev: (seq > 0).then(|| EventId::from_bytes([seq as u8; 32])),
        author: key_id(author),
        at: parse::<Timestamp>("2025-06-30T17:45:12.250Z"),
        body,
    }
}

fn claim() -> Payload {
    let evidence = |n: u8, uri: Option<&str>| Evidence {
        sha256: Sha256Digest::from_bytes([n; 32]),
        media_type: parse("application/pdf"),
        uri: uri.map(parse),
    };
    payload(
        42,
        2,
        Body::ClaimSubmitted(ClaimSubmitted {
            outcome: parse("housed-12m"),
            period: Period {
                from: parse("2025-01-01"),
                to: parse("2025-06-30"),
            },
            quantity: int(5),
            participants: (1..=5)
                .map(|n| Pseudonym::from_bytes([n * 17; 32]))
                .collect(),
            evidence: vec![
                evidence(
                    1,
                    Some("https://evidence.example.org/homes-first/2025-06/tenancies.pdf"),
                ),
                evidence(2, None),
            ],
        }),
    )
}

fn payment() -> Payload {
    let lines: Vec<PaymentLine> = (0..10u64)
        .map(|n| PaymentLine {
            claim: EventId::from_bytes([n as u8 + 100; 32]),
            amount: int(150_000 * (n + 1)),
        })
        .collect();
    payload(
        97,
        1,
        Body::PaymentMade(PaymentMade {
            total: int(150_000 * 55),
            lines,
            currency: parse("GBP"),
            reference: parse("REM-2025-06-0042"),
        }),
    )
}

fn registration() -> Payload {
    let roles = [
        Role::Commissioner,
        Role::Provider,
        Role::Investor,
        Role::Investor,
        Role::Intermediary,
        Role::Verifier,
        Role::BeneficiaryRep,
    ];
    let parties = (1..=7u8)
        .zip(roles)
        .map(|(seed, role)| Party {
            key: PublicKey::from_bytes(key(seed).verifying_key().to_bytes()),
            role,
            name: parse(&format!("Party number {seed} of the Homes First programme")),
        })
        .collect();
    let outcomes = [
        ("housed-3m", 50_000),
        ("housed-6m", 150_000),
        ("housed-12m", 300_000),
    ]
    .into_iter()
    .map(|(id, price)| OutcomeDef {
        id: parse(id),
        name: parse(&format!("Accommodation sustained ({id})")),
        price: int(price),
        cap_units: int(400),
    })
    .collect();
    payload(
        0,
        1,
        Body::ContractRegistered(ContractRegistered {
            title: parse("Homes First: a social outcomes contract for housing"),
            currency: parse("GBP"),
            parties,
            outcomes,
            cap: int(60_000_000),
            start: parse("2025-01-01"),
            end: parse("2027-12-31"),
        }),
    )
}

/// The canonical envelope bytes of `payload` signed by the keys `signers`.
fn envelope(payload: &Payload, signers: &[u8]) -> Vec<u8> {
    let bytes = payload.encode();
    let signatures = signers
        .iter()
        .map(|seed| dsse::sign(PAYLOAD_TYPE, &bytes, &key(*seed)))
        .collect();
    match Envelope::new(PAYLOAD_TYPE, bytes, signatures) {
        Ok(envelope) => envelope.to_jcs(),
        Err(e) => panic!("bench envelope: {e}"),
    }
}

fn record(name: &str, iterations: u64, elapsed: Duration) {
    if let Ok(mut samples) = SAMPLES.lock() {
        let per_iteration = elapsed.as_secs_f64() / iterations.max(1) as f64;
        samples
            .entry(name.to_owned())
            .or_default()
            .push(per_iteration);
    }
}

/// Benchmarks `run` as `name`, recording each sample's time per iteration.
fn measure(c: &mut Criterion, name: &str, mut run: impl FnMut()) {
    c.bench_function(name, |b| {
        b.iter_custom(|iterations| {
            let start = Instant::now();
            for _ in 0..iterations {
                run();
            }
            let elapsed = start.elapsed();
            record(name, iterations, elapsed);
            elapsed
        })
    });
}

/// What `ledger_core::Event::decode` does with the bytes received, but the event id hash: the
/// envelope with its canonical bytes, then the payload.
fn chain(json: &[u8]) -> (Envelope, Payload, Vec<u8>) {
    let (envelope, leaf) = match Envelope::decode_with_jcs(json) {
        Ok(decoded) => decoded,
        Err(e) => panic!("bench envelope refused: {e}"),
    };
    let payload = match Payload::decode(envelope.payload()) {
        Ok(payload) => payload,
        Err(e) => panic!("bench payload refused: {e}"),
    };
    (envelope, payload, leaf)
}

fn bench_kind(c: &mut Criterion, kind: &str, json: &[u8]) {
    let (envelope, payload, leaf) = chain(json);
    assert_eq!(leaf, json, "{kind}: the bench envelopes are canonical");
    assert_eq!(
        payload.encode(),
        envelope.payload(),
        "{kind}: payload round trip"
    );
    measure(c, &format!("{kind}/envelope_decode"), || {
        assert!(Envelope::decode(black_box(json)).is_ok());
    });
    measure(c, &format!("{kind}/payload_decode"), || {
        assert!(Payload::decode(black_box(envelope.payload())).is_ok());
    });
    measure(c, &format!("{kind}/payload_encode"), || {
        black_box(black_box(&payload).encode());
    });
    measure(c, &format!("{kind}/envelope_decode_with_jcs"), || {
        assert!(Envelope::decode_with_jcs(black_box(json)).is_ok());
    });
    measure(c, &format!("{kind}/to_jcs"), || {
        black_box(black_box(&envelope).to_jcs());
    });
    measure(c, &format!("{kind}/chain"), || {
        black_box(chain(black_box(json)));
    });
    measure(c, &format!("{kind}/baseline_json_skim"), || {
        let skimmed: Result<serde::de::IgnoredAny, _> = serde_json::from_slice(black_box(json));
        assert!(skimmed.is_ok());
    });
}

fn bench_verify(c: &mut Criterion, json: &[u8]) {
    let (envelope, _, _) = chain(json);
    let message = envelope.pae();
    let public = key(2).verifying_key();
    let signature = match envelope.signatures() {
        [first, ..] => ed25519_dalek::Signature::from_bytes(first.sig()),
        [] => panic!("bench envelope has no signature"),
    };
    assert!(public.verify(&message, &signature).is_ok());
    measure(c, "baseline_verify_strict", || {
        assert!(public
            .verify_strict(black_box(&message), black_box(&signature))
            .is_ok());
    });
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

fn report(sizes: &[(&str, usize, usize)]) {
    let Ok(samples) = SAMPLES.lock() else { return };
    let baseline = samples
        .get("baseline_verify_strict")
        .map_or(f64::NAN, |s| median(s));
    println!("\nratio = median / median of one ed25519 verify_strict (same run)");
    for (kind, envelope_bytes, payload_bytes) in sizes {
        println!("  {kind}: envelope {envelope_bytes} bytes, payload {payload_bytes} bytes");
    }
    for (name, values) in samples.iter() {
        let m = median(values);
        println!(
            "  {name:<32} {:>8.2} us/event  ratio {:>5.2}",
            m * 1e6,
            m / baseline
        );
    }
}

fn main() {
    let claim = envelope(&claim(), &[2]);
    let payment = envelope(&payment(), &[1]);
    let registration = envelope(&registration(), &[1, 2, 3, 4, 5, 6, 7]);
    let mut criterion = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let mut sizes = Vec::new();
    for (kind, json) in [
        ("claim", &claim),
        ("payment", &payment),
        ("registration", &registration),
    ] {
        bench_kind(&mut criterion, kind, json);
        sizes.push((kind, json.len(), chain(json).1.encode().len()));
    }
    bench_verify(&mut criterion, &claim);
    criterion.final_summary();
    report(&sizes);
}
