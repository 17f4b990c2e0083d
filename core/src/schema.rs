//! The event lake's Arrow schema, in one place, shared by the lab generator, ingest, the
//! column mapping and the hunts.
//!
//! Every Parquet file under `<out>/events/` has exactly this schema, so a reader can register
//! the folder as one table. Ingest and the hunts reuse the column-name constants rather than
//! spelling the names again. The layout is flattened winlogbeat (see `HUNTS.md`): the event's
//! creation time in epoch nanoseconds, the event code and id, and one nullable Utf8 column per
//! Sysmon field, lower-cased, null where the event type does not carry the field.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};

/// Event creation time, Int64 epoch nanoseconds (UTC), never null.
pub const EVENT_CREATED: &str = "event_created";
/// Event code as a string, e.g. `"1644"`.
pub const EVENT_CODE: &str = "event_code";
/// Event id as an Int32, never null.
pub const WINLOG_EVENT_ID: &str = "winlog_event_id";
/// Channel, e.g. `"Microsoft-Windows-Sysmon/Operational"`.
pub const WINLOG_CHANNEL: &str = "winlog_channel";
/// Fully qualified name of the computer that logged the event.
pub const WINLOG_COMPUTER_NAME: &str = "winlog_computer_name";
/// Account name of the event (`SYSTEM` for Sysmon, the querying account for 1644).
pub const WINLOG_USER_NAME: &str = "winlog_user_name";
/// Task name of the event, e.g. `"Process Create (rule: ProcessCreate)"`.
pub const WINLOG_TASK: &str = "winlog_task";
/// Sysmon `ProcessGuid`, `{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}`.
pub const PROCESSGUID: &str = "winlog_event_data_processguid";
/// Sysmon `ParentProcessGuid`.
pub const PARENTPROCESSGUID: &str = "winlog_event_data_parentprocessguid";
/// Sysmon `Image`.
pub const IMAGE: &str = "winlog_event_data_image";
/// Sysmon `CommandLine`.
pub const COMMANDLINE: &str = "winlog_event_data_commandline";
/// Sysmon `ParentImage`.
pub const PARENTIMAGE: &str = "winlog_event_data_parentimage";
/// Sysmon `ParentCommandLine`.
pub const PARENTCOMMANDLINE: &str = "winlog_event_data_parentcommandline";
/// Sysmon `CurrentDirectory`.
pub const CURRENTDIRECTORY: &str = "winlog_event_data_currentdirectory";
/// Sysmon `User`, `DOMAIN\name`.
pub const USER: &str = "winlog_event_data_user";
/// Sysmon `ParentUser`.
pub const PARENTUSER: &str = "winlog_event_data_parentuser";
/// Sysmon `SourceIp` (Security 4624: `IpAddress`).
pub const SOURCEIP: &str = "winlog_event_data_sourceip";
/// Sysmon `SourcePort` (Security 4624: `IpPort`).
pub const SOURCEPORT: &str = "winlog_event_data_sourceport";
/// Sysmon `SourceHostname` (Security 4624: `WorkstationName`).
pub const SOURCEHOSTNAME: &str = "winlog_event_data_sourcehostname";
/// Sysmon `DestinationIp`.
pub const DESTINATIONIP: &str = "winlog_event_data_destinationip";
/// Sysmon `DestinationPort`.
pub const DESTINATIONPORT: &str = "winlog_event_data_destinationport";
/// Sysmon `DestinationPortName`.
pub const DESTINATIONPORTNAME: &str = "winlog_event_data_destinationportname";
/// Sysmon `DestinationHostname`.
pub const DESTINATIONHOSTNAME: &str = "winlog_event_data_destinationhostname";
/// Sysmon `Protocol` (`tcp`, `udp`).
pub const PROTOCOL: &str = "winlog_event_data_protocol";
/// Sysmon `Initiated` (`"true"`, `"false"`).
pub const INITIATED: &str = "winlog_event_data_initiated";
/// Sysmon `QueryName`.
pub const QUERYNAME: &str = "winlog_event_data_queryname";
/// Sysmon `QueryResults`.
pub const QUERYRESULTS: &str = "winlog_event_data_queryresults";
/// Sysmon `QueryStatus`.
pub const QUERYSTATUS: &str = "winlog_event_data_querystatus";
/// Sysmon `TargetFilename`.
pub const TARGETFILENAME: &str = "winlog_event_data_targetfilename";
/// Directory Service 1644: the LDAP filter of the search.
pub const PARAM2: &str = "winlog_event_data_param2";

/// Every column of the lake, in schema order.
pub const COLUMNS: [&str; 30] = [
    EVENT_CREATED,
    EVENT_CODE,
    WINLOG_EVENT_ID,
    WINLOG_CHANNEL,
    WINLOG_COMPUTER_NAME,
    WINLOG_USER_NAME,
    WINLOG_TASK,
    PROCESSGUID,
    PARENTPROCESSGUID,
    IMAGE,
    COMMANDLINE,
    PARENTIMAGE,
    PARENTCOMMANDLINE,
    CURRENTDIRECTORY,
    USER,
    PARENTUSER,
    SOURCEIP,
    SOURCEPORT,
    SOURCEHOSTNAME,
    DESTINATIONIP,
    DESTINATIONPORT,
    DESTINATIONPORTNAME,
    DESTINATIONHOSTNAME,
    PROTOCOL,
    INITIATED,
    QUERYNAME,
    QUERYRESULTS,
    QUERYSTATUS,
    TARGETFILENAME,
    PARAM2,
];

/// Channel of Sysmon events.
pub const CHANNEL_SYSMON: &str = "Microsoft-Windows-Sysmon/Operational";
/// Channel of Directory Service events (1644 LDAP searches).
pub const CHANNEL_DIRECTORY_SERVICE: &str = "Directory Service";
/// Channel of Security events (4624 logons).
pub const CHANNEL_SECURITY: &str = "Security";

/// The Arrow schema of every lake file: `event_created` Int64 and `winlog_event_id` Int32
/// (both non-null), every other column nullable Utf8, in [`COLUMNS`] order.
pub fn lake_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let fields: Vec<Field> = COLUMNS
                .iter()
                .map(|&name| match name {
                    EVENT_CREATED => Field::new(name, DataType::Int64, false),
                    WINLOG_EVENT_ID => Field::new(name, DataType::Int32, false),
                    _ => Field::new(name, DataType::Utf8, true),
                })
                .collect();
            Arc::new(Schema::new(fields))
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_has_every_column_once_in_order() {
        let schema = lake_schema();
        let names: Vec<&str> =
            schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, COLUMNS.to_vec());
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), COLUMNS.len());
    }

    #[test]
    fn only_time_and_id_are_not_strings() {
        let schema = lake_schema();
        for f in schema.fields() {
            match f.name().as_str() {
                EVENT_CREATED => assert_eq!(f.data_type(), &DataType::Int64),
                WINLOG_EVENT_ID => assert_eq!(f.data_type(), &DataType::Int32),
                _ => {
                    assert_eq!(f.data_type(), &DataType::Utf8, "{}", f.name());
                    assert!(f.is_nullable(), "{}", f.name());
                }
            }
        }
    }

    #[test]
    fn event_data_columns_use_the_winlogbeat_prefix() {
        for name in &COLUMNS[7..] {
            assert!(name.starts_with("winlog_event_data_"), "{name}");
            assert_eq!(name.to_lowercase(), *name);
        }
    }
}
