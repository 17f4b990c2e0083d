//! `normalize_path`: one spelling for what is one program. Per-user installs put the same
//! program under every user's profile folder; installers and updaters put a version
//! number, a GUID or a random name into their paths. Counting lineages or images on the
//! raw text makes each of those a "program of one". Hunts count on the normalised text.

use std::sync::{Arc, LazyLock, OnceLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};
use regex::{Captures, Regex};

use crate::error::exec_error;
use crate::features::FEATURES_SECTION;

const NAME: &str = "normalize_path";

/// Profile folders that are not one user's: kept as they are.
const SHARED_PROFILES: &[&str] = &["public", "default", "default user", "all users"];

static PROFILE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"([\\/]users[\\/])([^\\/]+)([\\/]|$)").expect("valid regex")
});
static GUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?")
        .expect("valid regex")
});
static VERSION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\d+(?:[._]\d+)+").expect("valid regex"));
static HEX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[0-9a-f]{8,}|\d{4,}").expect("valid regex"));

/// Lower-cases `text` and replaces what differs between copies of one program: the user
/// folder under `\Users\` (not `Public` or `Default`) by `<user>`, GUIDs by `<guid>`,
/// dotted version numbers by `<ver>`, and runs of 8 or more hex digits with a digit in
/// them, or 4 or more digits, by `<n>`.
pub fn normalize_path_str(text: &str) -> String {
    let lower = text.to_lowercase();
    let profile = PROFILE.replace_all(&lower, |c: &Captures<'_>| {
        if SHARED_PROFILES.contains(&&c[2]) {
            c[0].to_string()
        } else {
            format!("{}<user>{}", &c[1], &c[3])
        }
    });
    let guid = GUID.replace_all(&profile, "<guid>");
    let version = VERSION.replace_all(&guid, "<ver>");
    HEX.replace_all(&version, |c: &Captures<'_>| {
        let run = &c[0];
        if run.bytes().any(|b| b.is_ascii_digit()) {
            "<n>".to_string()
        } else {
            run.to_string()
        }
    })
    .into_owned()
}

/// `normalize_path(text)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct NormalizePath {
    signature: Signature,
}

impl Default for NormalizePath {
    fn default() -> Self {
        Self {
            signature: Signature::string(1, Volatility::Immutable),
        }
    }
}

fn normalize_array(array: &ArrayRef) -> Result<ArrayRef> {
    let out: StringArray = match array.data_type() {
        DataType::Utf8 => array
            .as_string::<i32>()
            .iter()
            .map(|v| v.map(normalize_path_str))
            .collect(),
        DataType::LargeUtf8 => array
            .as_string::<i64>()
            .iter()
            .map(|v| v.map(normalize_path_str))
            .collect(),
        DataType::Utf8View => array
            .as_string_view()
            .iter()
            .map(|v| v.map(normalize_path_str))
            .collect(),
        other => {
            return Err(exec_error(NAME, format!("expects a string, got {other}")));
        }
    };
    Ok(Arc::new(out))
}

impl ScalarUDFImpl for NormalizePath {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return Err(exec_error(NAME, "expects exactly one argument"));
        };
        match arg {
            ColumnarValue::Scalar(s) => {
                let array = s.to_array()?;
                let out = normalize_array(&array)?;
                Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
            }
            ColumnarValue::Array(a) => Ok(ColumnarValue::Array(normalize_array(a)?)),
        }
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: OnceLock<Documentation> = OnceLock::new();
        Some(DOC.get_or_init(|| {
            Documentation::builder(
                FEATURES_SECTION,
                "One spelling for copies of one program, to count them as one: lower-cased, \
                 the user folder under `\\Users\\` replaced by `<user>` (not `Public` or \
                 `Default`), GUIDs by `<guid>`, dotted version numbers by `<ver>`, and runs \
                 of 8 or more hex digits (with a digit among them) or 4 or more digits by \
                 `<n>`. Null for null.",
                "normalize_path(text)",
            )
            .with_argument("text", "A path or command line (Utf8, Utf8View or LargeUtf8).")
            .with_sql_example(
                "```sql\n> SELECT normalize_path('C:\\Users\\alice\\AppData\\Local\\Microsoft\\OneDrive\\23.038.0219.0001\\OneDriveSetup.exe') AS p;\n\
                 +--------------------------------------------------------------------------+\n\
                 | p                                                                        |\n\
                 +--------------------------------------------------------------------------+\n\
                 | c:\\users\\<user>\\appdata\\local\\microsoft\\onedrive\\<ver>\\onedrivesetup.exe |\n\
                 +--------------------------------------------------------------------------+\n```",
            )
            .build()
        }))
    }
}

/// The `normalize_path` scalar function.
pub fn normalize_path_udf() -> Arc<ScalarUDF> {
    static UDF: OnceLock<Arc<ScalarUDF>> = OnceLock::new();
    UDF.get_or_init(|| Arc::new(ScalarUDF::from(NormalizePath::default())))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_of_one_program_read_alike() {
        let alice = normalize_path_str(
            r"C:\Users\alice\AppData\Local\Microsoft\OneDrive\OneDrive.exe",
        );
        let bob = normalize_path_str(
            r"C:\Users\Bob.Smith\AppData\Local\Microsoft\OneDrive\OneDrive.exe",
        );
        assert_eq!(alice, bob);
        assert_eq!(
            alice,
            r"c:\users\<user>\appdata\local\microsoft\onedrive\onedrive.exe"
        );
        assert_eq!(
            normalize_path_str(
                r"C:\Windows\Temp\{4A1B2C3D-1111-2222-3333-444455556666}\setup.exe"
            ),
            normalize_path_str(
                r"C:\Windows\Temp\{9F8E7D6C-AAAA-BBBB-CCCC-DDDDEEEEFFFF}\setup.exe"
            ),
        );
        assert_eq!(
            normalize_path_str(
                r"C:\Program Files (x86)\Google\Update\1.3.36.372\GoogleUpdate.exe"
            ),
            r"c:\program files (x86)\google\update\<ver>\googleupdate.exe"
        );
        assert_eq!(
            normalize_path_str(r"C:\Windows\Temp\dismhost_8f3a9c21b4\x.exe"),
            normalize_path_str(r"C:\Windows\Temp\dismhost_17c0de4f90\x.exe"),
        );
    }

    #[test]
    fn what_tells_programs_apart_is_kept() {
        // Public and Default are shared folders, not a user's: an implant in Public stays
        // apart from per-user installs.
        assert_eq!(
            normalize_path_str(r"C:\Users\Public\health.ps1"),
            r"c:\users\public\health.ps1"
        );
        assert_ne!(
            normalize_path_str(r"C:\Users\Public\x.exe"),
            normalize_path_str(r"C:\Users\alice\x.exe")
        );
        // Words, short numbers and architecture names are not versions.
        assert_eq!(
            normalize_path_str(r"C:\Windows\SysWOW64\cmd.exe /c dir x64 v2"),
            r"c:\windows\syswow64\cmd.exe /c dir x64 v2"
        );
        assert_eq!(
            normalize_path_str(r"C:\cafebabe\deadbeef.exe"),
            r"c:\cafebabe\deadbeef.exe"
        );
        assert_eq!(normalize_path_str(""), "");
    }

    #[test]
    fn columns_and_nulls() {
        let array: ArrayRef =
            Arc::new(StringArray::from(vec![Some(r"C:\Users\a\x.exe"), None]));
        let out = normalize_array(&array).unwrap();
        let out = out.as_string::<i32>();
        assert_eq!(out.value(0), r"c:\users\<user>\x.exe");
        assert!(out.is_null(1));
        let bad: ArrayRef = Arc::new(datafusion::arrow::array::Int32Array::from(vec![1]));
        assert!(
            normalize_array(&bad)
                .unwrap_err()
                .to_string()
                .contains(NAME)
        );
    }
}
