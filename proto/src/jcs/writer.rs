//! A serde `Serializer` that writes RFC 8785 canonical JSON straight into a byte buffer, with
//! no `serde_json::Value` in between.
//!
//! Object members are written in the order serde gives them, each remembered by its name and
//! byte range; when the object ends, members out of canonical order (UTF-16 code units of the
//! names) are moved into it. Strings and numbers are written as [`super::encode`] writes them.

use std::cmp::Ordering;

use serde::ser::{self, Error as _, Serialize};

type Error = serde_json::Error;

/// The canonical writer: the output and the members of the objects still open.
pub(super) struct Writer {
    out: Vec<u8>,
    members: Vec<Member>,
    scratch: Vec<u8>,
}

/// One member written: its name and where its `"name":value` bytes are in the output.
struct Member {
    name: Name,
    start: usize,
    end: usize,
}

enum Name {
    Field(&'static str),
    Key(String),
}

impl Name {
    fn as_str(&self) -> &str {
        match self {
            Name::Field(name) => name,
            Name::Key(name) => name,
        }
    }
}

impl Writer {
    pub(super) fn with_capacity(bytes: usize) -> Self {
        Self {
            out: Vec::with_capacity(bytes),
            // Room for the members of a few nested objects: the stack of those still open.
            members: Vec::with_capacity(16),
            scratch: Vec::new(),
        }
    }

    pub(super) fn into_bytes(self) -> Vec<u8> {
        self.out
    }

    fn open_object(&mut self, prefix: &[u8]) -> Object<'_> {
        self.out.extend_from_slice(prefix);
        self.out.push(b'{');
        Object {
            body: self.out.len(),
            first_member: self.members.len(),
            key: None,
            writer: self,
        }
    }

    fn open_array(&mut self, prefix: &[u8], close: &'static [u8]) -> Array<'_> {
        self.out.extend_from_slice(prefix);
        self.out.push(b'[');
        Array {
            writer: self,
            empty: true,
            close,
        }
    }

    /// `{"name":` opening an externally tagged enum variant (as serde_json writes them).
    fn variant_prefix(name: &str) -> Vec<u8> {
        let mut prefix = vec![b'{'];
        super::write_string(&mut prefix, name);
        prefix.push(b':');
        prefix
    }

    fn write_member<T: Serialize + ?Sized>(
        &mut self,
        first_member: usize,
        name: Name,
        value: &T,
    ) -> Result<(), Error> {
        if self.members.len() > first_member {
            self.out.push(b',');
        }
        let start = self.out.len();
        super::write_string(&mut self.out, name.as_str());
        self.out.push(b':');
        value.serialize(&mut *self)?;
        self.members.push(Member {
            name,
            start,
            end: self.out.len(),
        });
        Ok(())
    }

    /// Ends the object whose members start at `first_member` and whose bytes at `body`: puts
    /// its members in canonical order and refuses a name written twice.
    fn close_object(&mut self, first_member: usize, body: usize) -> Result<(), Error> {
        let Writer {
            out,
            members,
            scratch,
        } = self;
        let object = &mut members[first_member..];
        let in_order = object
            .windows(2)
            .all(|w| utf16_cmp(w[0].name.as_str(), w[1].name.as_str()) == Ordering::Less);
        if !in_order {
            object.sort_by(|a, b| utf16_cmp(a.name.as_str(), b.name.as_str()));
            if let Some(w) = object
                .windows(2)
                .find(|w| w[0].name.as_str() == w[1].name.as_str())
            {
                return Err(Error::custom(format!(
                    "member {:?} written twice",
                    w[0].name.as_str()
                )));
            }
            scratch.clear();
            scratch.extend_from_slice(&out[body..]);
            out.truncate(body);
            for (i, member) in object.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(&scratch[member.start - body..member.end - body]);
            }
        }
        members.truncate(first_member);
        out.push(b'}');
        Ok(())
    }
}

/// Orders names by their UTF-16 code units (RFC 8785 section 3.2.3). Up to their first
/// differing byte the names share whole characters; if that byte is ASCII in both, it decides
/// as its UTF-16 unit would. UTF-8 byte order differs from UTF-16 order only past ASCII.
fn utf16_cmp(a: &str, b: &str) -> Ordering {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    match x.iter().zip(y).position(|(p, q)| p != q) {
        None => x.len().cmp(&y.len()),
        Some(i) if x[i].is_ascii() && y[i].is_ascii() => x[i].cmp(&y[i]),
        Some(_) => a.encode_utf16().cmp(b.encode_utf16()),
    }
}

fn write_u64(out: &mut Vec<u8>, value: u64) {
    if value <= crate::ids::INT_MAX {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut rest = value;
        loop {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        out.extend_from_slice(&digits[at..]);
    } else {
        // A JCS number is a double: past 2^53 it prints as the double nearest.
        write_f64(out, value as f64);
    }
}

fn write_i64(out: &mut Vec<u8>, value: i64) {
    if value < 0 && value.unsigned_abs() <= crate::ids::INT_MAX {
        out.push(b'-');
        write_u64(out, value.unsigned_abs());
    } else if value < 0 {
        write_f64(out, value as f64);
    } else {
        write_u64(out, value.unsigned_abs());
    }
}

fn write_f64(out: &mut Vec<u8>, value: f64) {
    let mut buffer = ryu_js::Buffer::new();
    out.extend_from_slice(buffer.format(value).as_bytes());
}

fn finite(value: f64) -> Result<f64, Error> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Error::custom("JCS has no form for NaN or infinity"))
    }
}

impl<'a> ser::Serializer for &'a mut Writer {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Array<'a>;
    type SerializeTuple = Array<'a>;
    type SerializeTupleStruct = Array<'a>;
    type SerializeTupleVariant = Array<'a>;
    type SerializeMap = Object<'a>;
    type SerializeStruct = Object<'a>;
    type SerializeStructVariant = Variant<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }

    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }

    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }

    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        write_i64(&mut self.out, v);
        Ok(())
    }

    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        let v = i64::try_from(v).map_err(|_| Error::custom("number out of range"))?;
        self.serialize_i64(v)
    }

    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }

    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }

    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }

    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        write_u64(&mut self.out, v);
        Ok(())
    }

    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        let v = u64::try_from(v).map_err(|_| Error::custom("number out of range"))?;
        self.serialize_u64(v)
    }

    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.serialize_f64(v.into())
    }

    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        write_f64(&mut self.out, finite(v)?);
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        super::write_string(&mut self.out, v);
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        use ser::SerializeSeq as _;
        let mut array = self.open_array(b"", b"]");
        for byte in v {
            array.serialize_element(byte)?;
        }
        array.end()
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.out.extend_from_slice(&Writer::variant_prefix(variant));
        value.serialize(&mut *self)?;
        self.out.push(b'}');
        Ok(())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Array<'a>, Error> {
        Ok(self.open_array(b"", b"]"))
    }

    fn serialize_tuple(self, _len: usize) -> Result<Array<'a>, Error> {
        Ok(self.open_array(b"", b"]"))
    }

    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Array<'a>, Error> {
        Ok(self.open_array(b"", b"]"))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Array<'a>, Error> {
        Ok(self.open_array(&Writer::variant_prefix(variant), b"]}"))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Object<'a>, Error> {
        Ok(self.open_object(b""))
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Object<'a>, Error> {
        Ok(self.open_object(b""))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Variant<'a>, Error> {
        Ok(Variant(self.open_object(&Writer::variant_prefix(variant))))
    }
}

/// An array being written.
pub(super) struct Array<'a> {
    writer: &'a mut Writer,
    empty: bool,
    close: &'static [u8],
}

impl Array<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        if !self.empty {
            self.writer.out.push(b',');
        }
        self.empty = false;
        value.serialize(&mut *self.writer)
    }

    fn close(self) -> Result<(), Error> {
        self.writer.out.extend_from_slice(self.close);
        Ok(())
    }
}

impl ser::SerializeSeq for Array<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeTuple for Array<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeTupleStruct for Array<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeTupleVariant for Array<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

/// An object being written: a struct or a map.
pub(super) struct Object<'a> {
    writer: &'a mut Writer,
    first_member: usize,
    body: usize,
    key: Option<String>,
}

impl Object<'_> {
    fn close(self) -> Result<(), Error> {
        self.writer.close_object(self.first_member, self.body)
    }
}

impl ser::SerializeStruct for Object<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.writer
            .write_member(self.first_member, Name::Field(name), value)
    }

    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeMap for Object<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.key = Some(key.serialize(KeyName)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let name = self
            .key
            .take()
            .ok_or_else(|| Error::custom("map value without a key"))?;
        self.writer
            .write_member(self.first_member, Name::Key(name), value)
    }

    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

/// A struct variant being written: `{"variant":{...}}`.
pub(super) struct Variant<'a>(Object<'a>);

impl ser::SerializeStructVariant for Variant<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        ser::SerializeStruct::serialize_field(&mut self.0, name, value)
    }

    fn end(self) -> Result<(), Error> {
        let Variant(object) = self;
        let writer = object.writer;
        writer.close_object(object.first_member, object.body)?;
        writer.out.push(b'}');
        Ok(())
    }
}

/// Turns a map key into its name: JSON names are strings, and serde_json writes integer and
/// boolean keys as their decimal or literal text.
struct KeyName;

impl ser::Serializer for KeyName {
    type Ok = String;
    type Error = Error;
    type SerializeSeq = ser::Impossible<String, Error>;
    type SerializeTuple = ser::Impossible<String, Error>;
    type SerializeTupleStruct = ser::Impossible<String, Error>;
    type SerializeTupleVariant = ser::Impossible<String, Error>;
    type SerializeMap = ser::Impossible<String, Error>;
    type SerializeStruct = ser::Impossible<String, Error>;
    type SerializeStructVariant = ser::Impossible<String, Error>;

    fn serialize_str(self, v: &str) -> Result<String, Error> {
        Ok(v.to_owned())
    }

    fn serialize_char(self, v: char) -> Result<String, Error> {
        Ok(v.to_string())
    }

    fn serialize_bool(self, v: bool) -> Result<String, Error> {
        Ok(v.to_string())
    }

    fn serialize_i8(self, v: i8) -> Result<String, Error> {
        Ok(v.to_string())
    }

    fn serialize_i16(self, v: i16) -> Result<String, Error> {
        Ok(v.to_string())
    }

    fn serialize_i32(self, v: i32) -> Result<String, Error> {
        Ok(v.to_string())
    }

    fn serialize_i64(self, v: i64) -> Result<String, Error> {
        Ok(v.to_string())
    }

    fn serialize_u8(self, v: u8) -> Result<String, Error> {
        Ok(v.to_string())
    }

    fn serialize_u16(self, v: u16) -> Result<String, Error> {
        Ok(v.to_string())
    }

    fn serialize_u32(self, v: u32) -> Result<String, Error> {
        Ok(v.to_string())
    }

    fn serialize_u64(self, v: u64) -> Result<String, Error> {
        Ok(v.to_string())
    }

    fn serialize_f32(self, _v: f32) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_f64(self, _v: f64) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_none(self) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_unit(self) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, Error> {
        Ok(variant.to_owned())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(key_must_be_a_string())
    }
}

fn key_must_be_a_string() -> Error {
    Error::custom("a JSON object member name must be a string")
}
