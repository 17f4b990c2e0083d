//! `normalize_path`: one spelling for what is one program. Per-user installs put the same
//! program under every user's profile folder; installers and updaters put a version
//! number, a GUID or a random name into their paths. Counting lineages or images on the
//! raw text makes each of those a "program of one". Hunts count on the normalised text.
//!
//! `admin_folder`: whether a path lies in a folder only administrators and installers can
//! write. Where an image runs from says who could have put it there: a vendor's updater
//! or a system tool in `Program Files` or `System32`, a phishing attachment or a dropped
//! implant in the user's profile or `Temp`.

use std::sync::{Arc, LazyLock, OnceLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, StringArray};
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
const ADMIN_FOLDER: &str = "admin_folder";

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

/// Folders only administrators (and installers running as them) can write, on any drive,
/// or in the kernel's `\SystemRoot` spelling of the Windows folder.
static ADMIN_ONLY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:[a-z]:\\(?:windows|program files|program files \(x86\)|progra~1|progra~2)|\\systemroot)\\",
    )
        .expect("valid regex")
});
/// Subfolders of the Windows folder that a standard user can write (and run from): the
/// folders public AppLocker-bypass research lists.
static USER_WRITABLE_IN_WINDOWS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(?:[a-z]:\\windows|\\systemroot)\\(?:temp|tasks|tracing|registration\\crmlog|debug\\wia",
        r"|(?:system32|syswow64)\\(?:tasks|tasks_migrated|com\\dmp|fxstmp",
        r"|spool\\(?:drivers\\color|printers|servers)|microsoft\\crypto\\rsa\\machinekeys))\\",
    ))
    .expect("valid regex")
});

/// Whether `path` lies in a folder only administrators can write: the Windows folder
/// (less the subfolders of it that users can write, such as `Windows\Temp` and
/// `System32\Tasks`) and `Program Files` on any drive. Case-insensitive; `/` reads as
/// `\`; a `\\?\` prefix is ignored. Anything else (the profile, `ProgramData`, another
/// folder or drive, a share, an empty path, a path that climbs with `..`) is not.
pub fn admin_folder_str(path: &str) -> bool {
    let lower = path.trim().to_lowercase().replace('/', "\\");
    let lower = lower.strip_prefix(r"\\?\").unwrap_or(&lower);
    ADMIN_ONLY.is_match(lower)
        && !USER_WRITABLE_IN_WINDOWS.is_match(lower)
        && !lower.split('\\').any(|part| part == "..")
}

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

/// `f` of every value of a string column (any of Arrow's three string types), nulls kept.
fn map_strings<T>(
    name: &str,
    array: &ArrayRef,
    f: impl Fn(&str) -> T,
) -> Result<Vec<Option<T>>> {
    Ok(match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().iter().map(|v| v.map(&f)).collect(),
        DataType::LargeUtf8 => {
            array.as_string::<i64>().iter().map(|v| v.map(&f)).collect()
        }
        DataType::Utf8View => array.as_string_view().iter().map(|v| v.map(&f)).collect(),
        other => return Err(exec_error(name, format!("expects a string, got {other}"))),
    })
}

fn normalize_array(array: &ArrayRef) -> Result<ArrayRef> {
    let out: StringArray = map_strings(NAME, array, normalize_path_str)?
        .into_iter()
        .collect();
    Ok(Arc::new(out))
}

fn admin_folder_array(array: &ArrayRef) -> Result<ArrayRef> {
    let out: BooleanArray = map_strings(ADMIN_FOLDER, array, admin_folder_str)?
        .into_iter()
        .collect();
    Ok(Arc::new(out))
}

/// One argument, a scalar or a column, through `f`.
fn invoke_unary(
    name: &str,
    args: ScalarFunctionArgs,
    f: fn(&ArrayRef) -> Result<ArrayRef>,
) -> Result<ColumnarValue> {
    let [arg] = args.args.as_slice() else {
        return Err(exec_error(name, "expects exactly one argument"));
    };
    match arg {
        ColumnarValue::Scalar(s) => {
            let out = f(&s.to_array()?)?;
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
        }
        ColumnarValue::Array(a) => Ok(ColumnarValue::Array(f(a)?)),
    }
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
        invoke_unary(NAME, args, normalize_array)
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

/// `admin_folder(path)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct AdminFolder {
    signature: Signature,
}

impl Default for AdminFolder {
    fn default() -> Self {
        Self {
            signature: Signature::string(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for AdminFolder {
    fn name(&self) -> &str {
        ADMIN_FOLDER
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        invoke_unary(ADMIN_FOLDER, args, admin_folder_array)
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: OnceLock<Documentation> = OnceLock::new();
        Some(DOC.get_or_init(|| {
            Documentation::builder(
                FEATURES_SECTION,
                "Whether a path lies in a folder only administrators and installers can \
                 write: the Windows folder on any drive (or `\\SystemRoot`), less its \
                 subfolders a standard user can write (`Temp`, `Tasks`, `Tracing`, \
                 `System32\\Tasks`, `System32\\spool\\drivers\\color` and the others \
                 public AppLocker-bypass lists name), and `Program Files` and \
                 `Program Files (x86)`. Case-insensitive; `/` reads as `\\`; a `\\\\?\\` \
                 prefix is ignored. The profile, `ProgramData`, other folders and drives, \
                 shares, empty paths and paths that climb with `..` are not. Null for null.",
                "admin_folder(path)",
            )
            .with_argument("path", "A file path (Utf8, Utf8View or LargeUtf8).")
            .with_sql_example(
                "```sql\n> SELECT admin_folder('C:\\Program Files (x86)\\Google\\Update\\GoogleUpdate.exe') AS a, admin_folder('C:\\Users\\bob\\AppData\\Local\\Temp\\invoice.exe') AS b;\n\
                 +------+-------+\n\
                 | a    | b     |\n\
                 +------+-------+\n\
                 | true | false |\n\
                 +------+-------+\n```",
            )
            .build()
        }))
    }
}

/// The `admin_folder` scalar function.
pub fn admin_folder_udf() -> Arc<ScalarUDF> {
    static UDF: OnceLock<Arc<ScalarUDF>> = OnceLock::new();
    UDF.get_or_init(|| Arc::new(ScalarUDF::from(AdminFolder::default())))
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
    fn folders_only_administrators_can_write() {
        for admin in [
            r"C:\Windows\System32\cmd.exe",
            r"c:\windows\syswow64\WindowsPowerShell\v1.0\powershell.exe",
            r"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE",
            r"C:\Program Files (x86)\Google\Update\1.3.36.152\GoogleUpdate.exe",
            r"D:\Program Files\Vendor\agent.exe",
            r"C:\PROGRA~2\Adobe\ARM\1.0\AdobeARM.exe",
            r"\SystemRoot\System32\smss.exe",
            r"\\?\C:\Windows\System32\conhost.exe",
            r"C:/Windows/System32/svchost.exe",
            r"  C:\Windows\explorer.exe",
        ] {
            assert!(admin_folder_str(admin), "{admin}");
        }
        for user in [
            r"C:\Users\pgustavo\Desktop\GruntHTTP.exe",
            r"C:\Users\bob\AppData\Local\Temp\Rar$EXa1234.5678\Remittance_advice.exe",
            r"C:\ProgramData\svc\metricsvc.exe",
            r"C:\Windows\Temp\{4A1B2C3D-1111-2222-3333-444455556666}\setup.exe",
            r"C:\Windows\Tasks\x.exe",
            r"C:\Windows\System32\Tasks\x.exe",
            r"C:\Windows\SysWOW64\com\dmp\x.exe",
            r"C:\Windows\System32\spool\drivers\color\x.exe",
            r"c:\windows\tracing\x.exe",
            r"\SystemRoot\Temp\x.exe",
            r"C:\Windows\System32\..\..\Users\Public\x.exe",
            r"C:\Program Files Evil\x.exe",
            r"C:\Windowsx\x.exe",
            r"C:\Windows",
            r"\\fileserver\share\Program Files\x.exe",
            r"E:\tools\x.exe",
            "",
            "System",
        ] {
            assert!(!admin_folder_str(user), "{user}");
        }
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
        let folders = admin_folder_array(&array).unwrap();
        let folders = folders.as_boolean();
        assert!(!folders.value(0));
        assert!(folders.is_null(1));
        assert!(
            admin_folder_array(&bad)
                .unwrap_err()
                .to_string()
                .contains(ADMIN_FOLDER)
        );
    }
}
