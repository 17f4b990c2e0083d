//! `tokenize(text)`: the one tokeniser of the text hunts.
//!
//! The originals split on whitespace, which leaves an LDAP filter such as
//! `(&(objectCategory=person)(servicePrincipalName=*))` as a single token, so two
//! queries that differ in one attribute share nothing. Splitting on every
//! non-alphanumeric character instead yields the attribute names and values, and does
//! the same for Windows paths and command-line switches.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{ArrayRef, ListBuilder, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};

use super::{FEATURES_SECTION, is_string, str_values};
use crate::error::{exec_error, plan_error};

const TOKENIZE: &str = "tokenize";

/// The tokens of `text`: maximal runs of alphanumeric characters or `_` (Unicode
/// letters and digits included), lower-cased. Everything else separates tokens and is
/// dropped.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() || c == '_' {
            current.extend(c.to_lowercase());
        } else if !current.is_empty() {
            tokens.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

/// `tokenize(text)`: lower-cased alphanumeric tokens of a string.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Tokenize {
    signature: Signature,
}

impl Default for Tokenize {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn tokens_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
}

impl ScalarUDFImpl for Tokenize {
    fn name(&self) -> &str {
        TOKENIZE
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [text] = arg_types else {
            return Err(plan_error(
                TOKENIZE,
                format!("takes (text), got {} arguments", arg_types.len()),
            ));
        };
        if text == &DataType::Null {
            return Ok(vec![DataType::Utf8]);
        }
        if !is_string(text) {
            return Err(plan_error(
                TOKENIZE,
                format!("text must be a string, got {text}"),
            ));
        }
        Ok(arg_types.to_vec())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(tokens_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [text] = args.args.as_slice() else {
            return Err(exec_error(TOKENIZE, "takes (text)"));
        };
        let text = text.to_array(args.number_rows)?;
        let values = str_values(text.as_ref()).ok_or_else(|| {
            exec_error(
                TOKENIZE,
                format!("text must be a string, got {}", text.data_type()),
            )
        })?;
        let mut out = ListBuilder::new(StringBuilder::new());
        for v in values {
            match v {
                Some(s) => {
                    for t in tokenize(s) {
                        out.values().append_value(t);
                    }
                    out.append(true);
                }
                None => out.append(false),
            }
        }
        let out: ArrayRef = Arc::new(out.finish());
        Ok(ColumnarValue::Array(out))
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: OnceLock<Documentation> = OnceLock::new();
        Some(DOC.get_or_init(|| {
            Documentation::builder(
                FEATURES_SECTION,
                "Splits text into lower-cased tokens: maximal runs of letters, digits and \
                 `_` (Unicode-aware); every other character separates tokens and is \
                 dropped. LDAP filters yield their attribute names and values, Windows \
                 command lines their path parts and switches. Returns a List of Utf8 \
                 (empty when the text has no token), null for null.",
                "tokenize(text)",
            )
            .with_argument("text", "Utf8 (or LargeUtf8, Utf8View) text to split.")
            .with_sql_example(TOKENIZE_EXAMPLE)
            .build()
        }))
    }
}

const TOKENIZE_EXAMPLE: &str = "```sql\n\
> SELECT tokenize('(&(objectCategory=person)(servicePrincipalName=*))') AS ldap, tokenize('C:\\Windows\\system32\\cmd.exe /c whoami') AS cmd;\n\
+------------------------------------------------+---------------------------------------------+\n\
| ldap                                           | cmd                                         |\n\
+------------------------------------------------+---------------------------------------------+\n\
| [objectcategory, person, serviceprincipalname] | [c, windows, system32, cmd, exe, c, whoami] |\n\
+------------------------------------------------+---------------------------------------------+\n\
```";

/// The `tokenize` scalar function.
pub fn tokenize_udf() -> Arc<ScalarUDF> {
    static UDF: OnceLock<Arc<ScalarUDF>> = OnceLock::new();
    UDF.get_or_init(|| Arc::new(ScalarUDF::from(Tokenize::default())))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::test_util::{check_doc_example, ctx, error, run};
    use datafusion::arrow::array::{Array, AsArray};

    #[test]
    fn ldap_filters_split_into_attributes_and_values() {
        assert_eq!(
            tokenize("(&(objectCategory=person)(servicePrincipalName=*))"),
            ["objectcategory", "person", "serviceprincipalname"]
        );
        assert_eq!(
            tokenize("(|(sAMAccountName=krbtgt)(adminCount=1))"),
            ["samaccountname", "krbtgt", "admincount", "1"]
        );
    }

    #[test]
    fn command_lines_split_on_paths_and_switches() {
        assert_eq!(
            tokenize(
                r#""C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe" -NoP -enc SQBFAFgA"#
            ),
            [
                "c",
                "windows",
                "system32",
                "windowspowershell",
                "v1",
                "0",
                "powershell",
                "exe",
                "nop",
                "enc",
                "sqbfafga"
            ]
        );
        assert_eq!(
            tokenize("wmic /node:10.0.0.5 process call"),
            ["wmic", "node", "10", "0", "0", "5", "process", "call"]
        );
    }

    #[test]
    fn underscores_and_unicode_letters_stay_in_tokens() {
        assert_eq!(
            tokenize("__PSLockdown_Policy=1"),
            ["__pslockdown_policy", "1"]
        );
        assert_eq!(tokenize("Ärger-ÖL"), ["ärger", "öl"]);
    }

    #[test]
    fn empty_and_separator_only_text_has_no_tokens() {
        assert!(tokenize("").is_empty());
        assert!(tokenize(" ()=*&|\\/ ").is_empty());
        assert_eq!(tokenize("x"), ["x"]);
    }

    #[tokio::test]
    async fn sql_nulls_and_views_work() {
        let b = run(
            &ctx(),
            "SELECT tokenize(t) AS k FROM (VALUES ('A b'), (NULL), ('')) AS v(t)",
        )
        .await;
        let list = b[0].column(0).as_list::<i32>().clone();
        assert_eq!(list.len(), 3);
        let first = list.value(0);
        let first: Vec<_> = first.as_string::<i32>().iter().flatten().collect();
        assert_eq!(first, ["a", "b"]);
        assert!(list.is_null(1));
        assert!(!list.is_null(2) && list.value(2).is_empty());
        let b = run(&ctx(), "SELECT tokenize(arrow_cast('X=Y', 'Utf8View'))").await;
        assert_eq!(b[0].column(0).as_list::<i32>().value(0).len(), 2);
        let b = run(&ctx(), "SELECT tokenize(NULL)").await;
        assert!(b[0].column(0).is_null(0));
    }

    #[tokio::test]
    async fn wrong_types_fail_at_planning() {
        let err = error("SELECT tokenize(42)").await;
        assert!(err.contains("tokenize: text must be a string"), "{err}");
        let err = error("SELECT tokenize('a', 'b')").await;
        assert!(err.contains("tokenize: takes (text)"), "{err}");
    }

    #[tokio::test]
    async fn documented_example_holds() {
        check_doc_example(TOKENIZE_EXAMPLE).await;
    }
}
