//! Network helpers for hunts: which addresses are internal.
//!
//! Windows logs carry IP addresses as strings (Sysmon `SourceIp`, `DestinationIp`), in
//! dotted IPv4, IPv6, IPv4-mapped IPv6 or with a `%zone` suffix; these functions accept all
//! of them and treat anything unparsable as "not private" rather than failing a hunt.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, DocSection, Documentation, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};

use crate::error::exec_error;

/// Documentation section shared by the network helpers.
pub const NETWORK_SECTION: DocSection = DocSection {
    include: true,
    label: "Network functions",
    description: Some("Helpers for IP addresses as Windows logs record them."),
};

/// True when `ip` is a private or local address: RFC 1918 (10/8, 172.16/12, 192.168/16),
/// loopback (127/8, ::1), link-local (169.254/16, fe80::/10) or unique-local IPv6
/// (fc00::/7). IPv4-mapped IPv6 addresses follow the IPv4 rules; a `%zone` suffix is
/// ignored. Unparsable text is not private.
pub fn is_private_ip_str(ip: &str) -> bool {
    let trimmed = ip.trim();
    let without_zone = trimmed.split('%').next().unwrap_or(trimmed);
    let without_brackets = without_zone.trim_start_matches('[').trim_end_matches(']');
    match without_brackets.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => is_private_v4(v4),
        Ok(IpAddr::V6(v6)) => is_private_v6(v6),
        Err(_) => false,
    }
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    ip.is_private() || ip.is_loopback() || ip.is_link_local()
}

fn is_private_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_private_v4(v4);
    }
    let first = ip.segments()[0];
    ip.is_loopback() || (first & 0xffc0) == 0xfe80 || (first & 0xfe00) == 0xfc00
}

/// `is_private_ip(ip)`: whether a textual IP address is internal.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct IsPrivateIp {
    signature: Signature,
}

impl Default for IsPrivateIp {
    fn default() -> Self {
        Self {
            signature: Signature::string(1, Volatility::Immutable),
        }
    }
}

const IS_PRIVATE_IP: &str = "is_private_ip";

impl ScalarUDFImpl for IsPrivateIp {
    fn name(&self) -> &str {
        IS_PRIVATE_IP
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return Err(exec_error(IS_PRIVATE_IP, "expects exactly one argument"));
        };
        match arg {
            ColumnarValue::Scalar(s) => {
                let out = match s {
                    ScalarValue::Utf8(v)
                    | ScalarValue::Utf8View(v)
                    | ScalarValue::LargeUtf8(v) => v.as_deref().map(is_private_ip_str),
                    other => {
                        return Err(exec_error(
                            IS_PRIVATE_IP,
                            format!("expects a string, got {}", other.data_type()),
                        ));
                    }
                };
                Ok(ColumnarValue::Scalar(ScalarValue::Boolean(out)))
            }
            ColumnarValue::Array(a) => Ok(ColumnarValue::Array(private_ip_array(a)?)),
        }
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: OnceLock<Documentation> = OnceLock::new();
        Some(DOC.get_or_init(|| {
            Documentation::builder(
                NETWORK_SECTION,
                "True when the address is private or local: RFC 1918, loopback, \
                 link-local, or unique-local IPv6 (IPv4-mapped IPv6 follows the IPv4 \
                 rules; a `%zone` suffix is ignored). Null for null, false for text that \
                 is not an IP address.",
                "is_private_ip(ip)",
            )
            .with_argument("ip", "The address as text (Utf8, Utf8View or LargeUtf8).")
            .with_sql_example(
                "```sql\n> SELECT is_private_ip('10.1.2.3') AS a, is_private_ip('8.8.8.8') AS b, \
                 is_private_ip('fe80::1%12') AS c, is_private_ip('garbage') AS d;\n\
                 +------+-------+------+-------+\n\
                 | a    | b     | c    | d     |\n\
                 +------+-------+------+-------+\n\
                 | true | false | true | false |\n\
                 +------+-------+------+-------+\n```",
            )
            .build()
        }))
    }
}

fn private_ip_array(array: &ArrayRef) -> Result<ArrayRef> {
    let out: BooleanArray = match array.data_type() {
        DataType::Utf8 => array
            .as_string::<i32>()
            .iter()
            .map(|v| v.map(is_private_ip_str))
            .collect(),
        DataType::LargeUtf8 => array
            .as_string::<i64>()
            .iter()
            .map(|v| v.map(is_private_ip_str))
            .collect(),
        DataType::Utf8View => array
            .as_string_view()
            .iter()
            .map(|v| v.map(is_private_ip_str))
            .collect(),
        other => {
            return Err(exec_error(
                IS_PRIVATE_IP,
                format!("expects a string column, got {other}"),
            ));
        }
    };
    Ok(Arc::new(out))
}

/// The `is_private_ip` scalar function.
pub fn is_private_ip_udf() -> Arc<ScalarUDF> {
    static UDF: OnceLock<Arc<ScalarUDF>> = OnceLock::new();
    UDF.get_or_init(|| Arc::new(ScalarUDF::from(IsPrivateIp::default())))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::StringArray;
    use datafusion::prelude::SessionContext;

    #[test]
    fn classifies_addresses() {
        for ip in [
            "10.0.0.1",
            "172.16.5.4",
            "172.31.255.255",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.3.3",
            "::1",
            "fe80::1",
            "fe80::1%12",
            "fd00::1",
            "fc00::abcd",
            "::ffff:10.1.1.1",
            " 10.0.0.1 ",
            "[fe80::2]",
        ] {
            assert!(is_private_ip_str(ip), "{ip} should be private");
        }
        for ip in [
            "8.8.8.8",
            "172.32.0.1",
            "172.15.255.255",
            "192.169.0.1",
            "2001:db8::1",
            "::ffff:8.8.8.8",
            "",
            "garbage",
            "10.0.0",
            "300.1.1.1",
            "-",
        ] {
            assert!(!is_private_ip_str(ip), "{ip} should not be private");
        }
    }

    #[test]
    fn array_keeps_nulls() {
        let input: ArrayRef =
            Arc::new(StringArray::from(vec![Some("10.0.0.1"), None, Some("x")]));
        let out = private_ip_array(&input).expect("utf8 accepted");
        let out = out.as_boolean();
        assert!(out.value(0));
        assert!(out.is_null(1));
        assert!(!out.value(2));
    }

    #[tokio::test]
    async fn documented_example_holds() {
        let ctx = SessionContext::new();
        ctx.register_udf(is_private_ip_udf().as_ref().clone());
        let batches = ctx
            .sql(
                "SELECT is_private_ip('10.1.2.3') AS a, is_private_ip('8.8.8.8') AS b, \
                 is_private_ip('fe80::1%12') AS c, is_private_ip('garbage') AS d, \
                 is_private_ip(NULL) AS e",
            )
            .await
            .expect("plans")
            .collect()
            .await
            .expect("runs");
        let b = &batches[0];
        let col = |i: usize| b.column(i).as_boolean().clone();
        assert!(col(0).value(0));
        assert!(!col(1).value(0));
        assert!(col(2).value(0));
        assert!(!col(3).value(0));
        assert!(col(4).is_null(0));
    }

    #[tokio::test]
    async fn wrong_type_fails_at_planning() {
        let ctx = SessionContext::new();
        ctx.register_udf(is_private_ip_udf().as_ref().clone());
        let err = ctx
            .sql("SELECT is_private_ip(42)")
            .await
            .expect_err("integer argument must be rejected");
        assert!(err.to_string().contains("is_private_ip"), "{err}");
    }
}
