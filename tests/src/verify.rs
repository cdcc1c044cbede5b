//! An independent verifier of what a node serves, written from the specifications (RFC 9162
//! section 2, C2SP signed-note and tlog-checkpoint, DSSE v1) rather than from the node's code,
//! so the tests do not check the node against itself. Its own known-answer tests run the
//! vectors in `testdata/`.

use anyhow::{anyhow, bail, ensure, Context, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// RFC 9162 leaf hash: SHA-256(0x00 || data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(data);
    hasher.finalize().into()
}

/// RFC 9162 interior node hash: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// RFC 9162 Merkle tree hash of leaf hashes (MTH, section 2.1.1), recursively.
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = largest_power_of_two_below(n);
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

fn largest_power_of_two_below(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// Verifies an inclusion proof (RFC 9162 section 2.1.3.2).
///
/// # Errors
/// When the proof does not lead from `leaf` at `index` to `root` of a tree of `size`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<()> {
    ensure!(index < size, "index {index} is not below size {size}");
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        ensure!(s_n != 0, "inclusion proof is too long");
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    ensure!(s_n == 0, "inclusion proof is too short");
    ensure!(&r == root, "inclusion proof leads to another root");
    Ok(())
}

/// Verifies a consistency proof (RFC 9162 section 2.1.4.2) between two tree heads.
///
/// # Errors
/// When the proof does not show that the tree of `size1` is a prefix of the one of `size2`.
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<()> {
    ensure!(size1 <= size2, "size1 {size1} is over size2 {size2}");
    if size1 == size2 {
        ensure!(
            proof.is_empty(),
            "a proof between equal sizes must be empty"
        );
        ensure!(root1 == root2, "equal sizes with different roots");
        return Ok(());
    }
    ensure!(size1 != 0, "no proof from the empty tree");
    ensure!(!proof.is_empty(), "empty consistency proof");
    let mut path: Vec<Hash> = proof.to_vec();
    if size1.is_power_of_two() {
        path.insert(0, *root1);
    }
    let (mut f_n, mut s_n) = (size1 - 1, size2 - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut f_r, mut s_r) = (path[0], path[0]);
    for c in &path[1..] {
        ensure!(s_n != 0, "consistency proof is too long");
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    ensure!(s_n == 0, "consistency proof is too short");
    ensure!(
        &f_r == root1,
        "consistency proof does not lead to the old root"
    );
    ensure!(
        &s_r == root2,
        "consistency proof does not lead to the new root"
    );
    Ok(())
}

/// A C2SP signed-note verifier key: `<name>+<hex key id>+base64(0x01 || public key)`.
#[derive(Clone, Debug)]
pub struct NoteVerifier {
    name: String,
    key_id: [u8; 4],
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Parses a verifier key string (Ed25519, type 0x01, only).
    ///
    /// # Errors
    /// When the string is malformed or its key id does not match its key.
    pub fn parse(vkey: &str) -> Result<Self> {
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
        else {
            bail!("verifier key {vkey:?} is not name+id+key")
        };
        let key_bytes = STANDARD.decode(key_b64).context("verifier key base64")?;
        let [0x01, public @ ..] = key_bytes.as_slice() else {
            bail!("not an Ed25519 (0x01) key")
        };
        let public: [u8; 32] = public.try_into().context("public key length")?;
        let key = VerifyingKey::from_bytes(&public)?;
        let key_id = note_key_id(name, &public);
        ensure!(
            hex::encode(key_id) == id_hex,
            "key id {id_hex} does not match the key"
        );
        Ok(Self {
            name: name.to_owned(),
            key_id,
            key,
        })
    }

    /// The key name (the log origin, for a checkpoint).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Opens a signed note: returns its text once a signature line of this key verifies.
    ///
    /// # Errors
    /// When the note is malformed or carries no valid signature of this key.
    pub fn open<'a>(&self, note: &'a str) -> Result<&'a str> {
        let split = note
            .rfind("\n\n")
            .context("note has no blank line before signatures")?;
        let (text, signatures) = (&note[..=split], &note[split + 2..]);
        ensure!(
            signatures.ends_with('\n'),
            "signature block must end with a newline"
        );
        for line in signatures.lines() {
            let rest = line
                .strip_prefix("\u{2014} ")
                .context("signature line without an em dash")?;
            let (name, signature) = rest
                .split_once(' ')
                .context("signature line without a space")?;
            let raw = STANDARD.decode(signature).context("signature base64")?;
            if name != self.name || raw.len() != 68 || raw[..4] != self.key_id {
                continue;
            }
            let signature = Signature::from_slice(&raw[4..])?;
            self.key
                .verify_strict(text.as_bytes(), &signature)
                .context("note signature")?;
            return Ok(text);
        }
        bail!("no signature by {} on the note", self.name)
    }
}

fn note_key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', 0x01]);
    hasher.update(public);
    let digest: Hash = hasher.finalize().into();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// A verified tlog checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log origin.
    pub origin: String,
    /// The tree size.
    pub size: u64,
    /// The root hash.
    pub root: Hash,
}

/// Opens a checkpoint note signed by `verifier` and parses its body
/// (`origin\nsize\nbase64 root\n[extension lines]`); the origin must be the key name.
///
/// # Errors
/// When the signature, the body or the origin is wrong.
pub fn open_checkpoint(verifier: &NoteVerifier, note: &str) -> Result<Checkpoint> {
    let text = verifier.open(note)?;
    let mut lines = text.lines();
    let origin = lines.next().context("checkpoint without origin")?;
    let size = lines.next().context("checkpoint without size")?;
    let root = lines.next().context("checkpoint without root")?;
    ensure!(
        origin == verifier.name(),
        "origin {origin:?} is not the signer {:?}",
        verifier.name()
    );
    ensure!(
        size == "0" || !size.starts_with('0'),
        "size {size:?} has a leading zero"
    );
    let size = size.parse().with_context(|| format!("size {size:?}"))?;
    let root: Hash = STANDARD
        .decode(root)?
        .try_into()
        .map_err(|_| anyhow!("root is not 32 bytes"))?;
    Ok(Checkpoint {
        origin: origin.to_owned(),
        size,
        root,
    })
}

/// DSSE v1 pre-authentication encoding.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// The payload of a DSSE envelope (JSON value) once every signature verifies strictly under
/// the public key its `keyid` names in `keys` (key id hex -> 32-byte public key).
///
/// # Errors
/// When a member is missing, a key is unknown or a signature fails.
pub fn open_envelope(
    envelope: &serde_json::Value,
    keys: &std::collections::HashMap<String, [u8; 32]>,
) -> Result<Vec<u8>> {
    let field = |name: &str| envelope.get(name).and_then(serde_json::Value::as_str);
    let payload_type = field("payloadType").context("envelope without payloadType")?;
    let payload = STANDARD.decode(field("payload").context("envelope without payload")?)?;
    let signatures = envelope
        .get("signatures")
        .and_then(|s| s.as_array())
        .context("no signatures")?;
    ensure!(!signatures.is_empty(), "envelope without signatures");
    let message = pae(payload_type, &payload);
    for signature in signatures {
        let keyid = signature
            .get("keyid")
            .and_then(|k| k.as_str())
            .context("signature keyid")?;
        let sig = STANDARD.decode(
            signature
                .get("sig")
                .and_then(|s| s.as_str())
                .context("sig")?,
        )?;
        let public = keys
            .get(keyid)
            .with_context(|| format!("unknown signer {keyid}"))?;
        let key = VerifyingKey::from_bytes(public)?;
        key.verify_strict(&message, &Signature::from_slice(&sig)?)
            .with_context(|| format!("signature of {keyid}"))?;
    }
    Ok(payload)
}

/// Decodes a list of lowercase hex hashes.
///
/// # Errors
/// When one is not 64 lowercase hex digits.
pub fn hashes_from_hex(items: &[String]) -> Result<Vec<Hash>> {
    items.iter().map(|item| hash_from_hex(item)).collect()
}

/// Decodes one lowercase hex hash.
///
/// # Errors
/// When it is not 64 lowercase hex digits.
pub fn hash_from_hex(item: &str) -> Result<Hash> {
    ensure!(
        item.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "{item:?} is not lowercase hex"
    );
    let bytes = hex::decode(item)?;
    bytes
        .try_into()
        .map_err(|_| anyhow!("{item:?} is not 32 bytes"))
}

// Known-answer tests of this verifier.
// - testdata/rfc6962_merkle_vectors.json: transparency-dev/merkle @ 9ca563d3ac2b
//   (proof/verify_test.go, RFC 6962 8-leaf tree) and golang/mod sumdb/tlog.
// - testdata/signed_note_vectors.json: transparency-dev/formats log/note_test.go and the C2SP
//   tlog-checkpoint example (derived cases, signed with published seeds).
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn vectors(name: &str) -> Value {
        let path = format!("{}/../testdata/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn hash(value: &Value) -> Hash {
        hash_from_hex(value.as_str().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn hashes(value: &Value) -> Vec<Hash> {
        value
            .as_array()
            .map(|items| items.iter().map(hash).collect())
            .unwrap_or_default()
    }

    fn number(value: &Value) -> u64 {
        value
            .as_u64()
            .unwrap_or_else(|| panic!("{value} is not a number"))
    }

    #[test]
    fn roots_of_the_eight_leaf_tree_match_rfc_6962() {
        let tree = &vectors("rfc6962_merkle_vectors.json")["tree_8"];
        let leaves: Vec<Hash> = tree["leaves_hex"]
            .as_array()
            .unwrap_or(&Vec::new())
            .iter()
            .map(|leaf| {
                leaf_hash(&hex::decode(leaf.as_str().unwrap_or_default()).unwrap_or_default())
            })
            .collect();
        assert_eq!(leaves.len(), 8);
        for (size, root) in tree["roots_by_size"]["roots"]
            .as_array()
            .unwrap_or(&Vec::new())
            .iter()
            .enumerate()
        {
            assert_eq!(root_of(&leaves[..size]), hash(root), "size {size}");
        }
    }

    #[test]
    fn large_tree_roots_match() {
        let cases = &vectors("rfc6962_merkle_vectors.json")["large_tree_roots"]["cases"];
        for case in cases
            .as_array()
            .unwrap_or(&Vec::new())
            .iter()
            .filter(|c| number(&c["tree_size"]) <= 4096)
        {
            let size = number(&case["tree_size"]);
            let leaves: Vec<Hash> = (0..size)
                .map(|i| leaf_hash(&[(i & 0xff) as u8, ((i >> 8) & 0xff) as u8]))
                .collect();
            assert_eq!(root_of(&leaves), hash(&case["root"]), "size {size}");
        }
    }

    #[test]
    fn inclusion_and_consistency_proofs_verify_and_tampered_ones_fail() {
        let tree = &vectors("rfc6962_merkle_vectors.json")["tree_8"];
        for case in tree["inclusion_proofs"]["cases"]
            .as_array()
            .unwrap_or(&Vec::new())
        {
            let (index, size) = (number(&case["leaf_index"]), number(&case["tree_size"]));
            let (leaf, root, proof) = (
                hash(&case["leaf_hash"]),
                hash(&case["root"]),
                hashes(&case["proof"]),
            );
            assert!(
                verify_inclusion(index, size, &leaf, &proof, &root).is_ok(),
                "{case}"
            );
            let mut wrong = leaf;
            wrong[0] ^= 1;
            assert!(
                verify_inclusion(index, size, &wrong, &proof, &root).is_err(),
                "{case}"
            );
        }
        for case in tree["consistency_proofs"]["cases"]
            .as_array()
            .unwrap_or(&Vec::new())
        {
            let (size1, size2) = (number(&case["size1"]), number(&case["size2"]));
            let (root1, root2, proof) = (
                hash(&case["root1"]),
                hash(&case["root2"]),
                hashes(&case["proof"]),
            );
            assert!(
                verify_consistency(size1, size2, &proof, &root1, &root2).is_ok(),
                "{case}"
            );
            let mut wrong = root2;
            wrong[31] ^= 1;
            assert!(
                verify_consistency(size1, size2, &proof, &root1, &wrong).is_err(),
                "{case}"
            );
        }
    }

    #[test]
    fn c2sp_checkpoint_opens_under_its_log_key_only() {
        let cases = &vectors("signed_note_vectors.json")["derived_cases"];
        let case = cases
            .as_array()
            .and_then(|all| {
                all.iter()
                    .find(|c| c["id"] == "derived-c2sp-checkpoint-with-cosignature")
            })
            .unwrap_or_else(|| panic!("case missing"));
        let note = case["note_text"].as_str().unwrap_or_default();
        let verifier = NoteVerifier::parse(case["log_vkey"].as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        let checkpoint = open_checkpoint(&verifier, note).unwrap_or_else(|e| panic!("{e}"));
        let expected = &case["expected"]["checkpoint"];
        assert_eq!(
            checkpoint.origin,
            expected["origin"].as_str().unwrap_or_default()
        );
        assert_eq!(checkpoint.size, number(&expected["tree_size"]));
        assert_eq!(checkpoint.root, hash(&expected["root_hash_hex"]));
        let tampered = note.replace("20852163", "20852164");
        assert!(open_checkpoint(&verifier, &tampered).is_err());
        let other =
            NoteVerifier::parse("Log+2271c621+AemuH5ooBpEPcr+W8onrjA1NfuzBVHdezakU81Ekarvs")
                .unwrap_or_else(|e| panic!("{e}"));
        assert!(other.open(note).is_err());
    }
}
