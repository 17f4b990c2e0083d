//! What the Flight SQL service puts on the wire: which plans are plain reads, the classic
//! Arrow types clients understand, flight infos, statuses and the server's SQL info.

use std::sync::Arc;

use arrow_flight::sql::metadata::{SqlInfoData, SqlInfoDataBuilder};
use arrow_flight::sql::{
    ProstMessageExt, SqlInfo, SqlNullOrdering, SqlSupportedCaseSensitivity,
    SqlSupportedTransaction,
};
use arrow_flight::{FlightDescriptor, FlightEndpoint, FlightInfo, Ticket};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use datafusion::common::DataFusionError;
use datafusion::common::tree_node::TreeNode;
use datafusion::datasource::TableType;
use datafusion::logical_expr::{Expr, LogicalPlan};
use prost::Message;
use tonic::{Response, Status};

use crate::report::error_report;

/// Whether `plan` only reads stored tables: table scans under projections, filters,
/// limits and aliases, whose expressions call no function (Huntsman's functions and
/// anything that computes belong on the cluster) and hold no subquery.
pub fn plain_read(plan: &LogicalPlan) -> bool {
    let plain_expr = |e: &Expr| {
        !e.exists(|e| {
            Ok(matches!(
                e,
                Expr::ScalarFunction(_)
                    | Expr::AggregateFunction(_)
                    | Expr::WindowFunction(_)
                    | Expr::ScalarSubquery(_)
                    | Expr::Exists(_)
                    | Expr::InSubquery(_)
                    | Expr::OuterReferenceColumn(..)
            ))
        })
        .unwrap_or(true)
    };
    let node = match plan {
        LogicalPlan::TableScan(scan) => scan.filters.iter().all(plain_expr),
        LogicalPlan::Projection(p) => p.expr.iter().all(plain_expr),
        LogicalPlan::Filter(f) => plain_expr(&f.predicate),
        LogicalPlan::Limit(_) | LogicalPlan::SubqueryAlias(_) => true,
        _ => false,
    };
    node && plan.inputs().into_iter().all(plain_read)
}

/// `t` as every Arrow client reads it: the view types DataFusion prefers internally
/// (`Utf8View`, `BinaryView`, list views) become their classic forms, at any depth;
/// JDBC drivers and older pyarrow releases cannot sort or even read the views.
pub fn client_type(t: &DataType) -> DataType {
    let field = |f: &FieldRef| -> FieldRef {
        Arc::new(
            f.as_ref()
                .clone()
                .with_data_type(client_type(f.data_type())),
        )
    };
    match t {
        DataType::Utf8View => DataType::Utf8,
        DataType::BinaryView => DataType::Binary,
        DataType::List(f) | DataType::ListView(f) => DataType::List(field(f)),
        DataType::LargeList(f) | DataType::LargeListView(f) => {
            DataType::LargeList(field(f))
        }
        DataType::FixedSizeList(f, n) => DataType::FixedSizeList(field(f), *n),
        DataType::Struct(fields) => DataType::Struct(fields.iter().map(field).collect()),
        DataType::Map(f, sorted) => DataType::Map(field(f), *sorted),
        other => other.clone(),
    }
}

/// [`client_type`] over a schema.
pub fn client_schema(schema: &Schema) -> Schema {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            f.as_ref()
                .clone()
                .with_data_type(client_type(f.data_type()))
        })
        .collect();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

/// `batch` cast to `schema` (its [`client_schema`]).
pub(super) fn to_client(
    batch: RecordBatch,
    schema: &SchemaRef,
) -> Result<RecordBatch, DataFusionError> {
    if batch.schema().as_ref() == schema.as_ref() {
        return Ok(batch);
    }
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| cast(column, field.data_type()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}

/// A FlightInfo with one endpoint on this server whose ticket is `ticket`.
pub(super) fn flight_info(
    schema: &Schema,
    ticket: &impl ProstMessageExt,
    descriptor: FlightDescriptor,
) -> Result<Response<FlightInfo>, Status> {
    let ticket = Ticket::new(ticket.as_any().encode_to_vec());
    let info = FlightInfo::new()
        .try_with_schema(&client_schema(schema))
        .map_err(|e| Status::internal(format!("encoding the result schema: {e}")))?
        .with_endpoint(FlightEndpoint::new().with_ticket(ticket))
        .with_descriptor(descriptor);
    Ok(Response::new(info))
}

/// How a DataFusion error reaches the client: planning errors (syntax, unknown tables
/// and columns) as `InvalidArgument` with DataFusion's text, others as `Internal`, in
/// one line first as the CLI prints them.
pub(super) fn status_of(e: DataFusionError) -> Status {
    let text = error_report(&e.to_string());
    match e.find_root() {
        DataFusionError::SQL(..)
        | DataFusionError::Plan(_)
        | DataFusionError::SchemaError(..)
        | DataFusionError::NotImplemented(_) => Status::invalid_argument(text),
        _ => Status::internal(text),
    }
}

/// An error building a metadata result, as `Internal`.
pub(super) fn internal(e: impl std::fmt::Display) -> Status {
    Status::internal(e.to_string())
}

pub(super) fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

pub(super) fn utf8(bytes: &[u8], what: &str) -> Result<String, Status> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| Status::invalid_argument(format!("the {what} is not UTF-8")))
}

/// What the server tells `GetSqlInfo`.
pub(super) fn sql_info() -> Result<SqlInfoData, DataFusionError> {
    let mut b = SqlInfoDataBuilder::new();
    b.append(SqlInfo::FlightSqlServerName, "Huntsman");
    b.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
    b.append(SqlInfo::FlightSqlServerArrowVersion, "59");
    b.append(SqlInfo::FlightSqlServerReadOnly, true);
    b.append(SqlInfo::FlightSqlServerSql, true);
    b.append(SqlInfo::FlightSqlServerSubstrait, false);
    b.append(
        SqlInfo::FlightSqlServerTransaction,
        SqlSupportedTransaction::None as i32,
    );
    b.append(SqlInfo::FlightSqlServerCancel, false);
    b.append(SqlInfo::SqlDdlCatalog, false);
    b.append(SqlInfo::SqlDdlSchema, false);
    b.append(SqlInfo::SqlDdlTable, false);
    b.append(
        SqlInfo::SqlIdentifierCase,
        SqlSupportedCaseSensitivity::SqlCaseSensitivityLowercase as i32,
    );
    b.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
    b.append(
        SqlInfo::SqlQuotedIdentifierCase,
        SqlSupportedCaseSensitivity::SqlCaseSensitivityCaseInsensitive as i32,
    );
    b.append(SqlInfo::SqlAllTablesAreSelectable, true);
    b.append(
        SqlInfo::SqlNullOrdering,
        SqlNullOrdering::SqlNullsSortedHigh as i32,
    );
    b.build()
        .map_err(|e| DataFusionError::External(Box::new(e)))
}

pub(super) fn table_type_name(t: TableType) -> &'static str {
    match t {
        TableType::Base => "TABLE",
        TableType::View => "VIEW",
        TableType::Temporary => "LOCAL TEMPORARY",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{
        ArrayRef, ListBuilder, StringViewArray, StringViewBuilder,
    };
    use datafusion::prelude::SessionContext;

    #[tokio::test]
    async fn only_plain_reads_of_tables_stay_off_the_cluster() {
        let ctx = SessionContext::new();
        let schema = Arc::new(Schema::new(vec![
            Field::new("host", DataType::Utf8, true),
            Field::new("score", DataType::Float64, true),
        ]));
        let table = datafusion::datasource::MemTable::try_new(schema, vec![vec![]])
            .expect("table");
        ctx.register_table("t", Arc::new(table)).expect("register");
        huntsman_udfs::session::register_all_on_context(&ctx);
        let plain = [
            "SELECT * FROM t",
            "SELECT host FROM t WHERE score > 0.5 AND host LIKE 'WS%' LIMIT 10",
            "SELECT x.host AS h FROM t AS x WHERE x.host IN ('a', 'b') OFFSET 3",
            "SELECT CAST(score AS INT) FROM t WHERE host IS NOT NULL",
        ];
        let computed = [
            "SELECT upper(host) FROM t",
            "SELECT host FROM t WHERE is_private_ip(host)",
            "SELECT count(*) FROM t",
            "SELECT host FROM t ORDER BY score",
            "SELECT DISTINCT host FROM t",
            "SELECT a.host FROM t a JOIN t b ON a.host = b.host",
            "SELECT host FROM t WHERE score > (SELECT avg(score) FROM t)",
            "SELECT host, row_number() OVER (ORDER BY score) FROM t",
            "SELECT host FROM t UNION ALL SELECT host FROM t",
            "EXPLAIN SELECT * FROM t",
        ];
        for sql in plain {
            let df = ctx.sql(sql).await.expect(sql);
            assert!(plain_read(df.logical_plan()), "{sql}");
        }
        for sql in computed {
            let df = ctx.sql(sql).await.expect(sql);
            assert!(!plain_read(df.logical_plan()), "{sql}");
        }
    }

    #[test]
    fn view_types_reach_clients_in_their_classic_forms() {
        let item = Arc::new(Field::new("item", DataType::Utf8View, true));
        let schema = Arc::new(Schema::new(vec![
            Field::new("guid", DataType::Utf8View, false),
            Field::new("names", DataType::List(Arc::clone(&item)), true),
            Field::new("n", DataType::Int64, true),
        ]));
        let client = Arc::new(client_schema(&schema));
        assert_eq!(client.field(0).data_type(), &DataType::Utf8);
        assert!(!client.field(0).is_nullable());
        assert_eq!(
            client.field(1).data_type(),
            &DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
        );
        assert_eq!(client.field(2).data_type(), &DataType::Int64);
        let mut names = ListBuilder::new(StringViewBuilder::new()).with_field(item);
        names.values().append_value("a.example");
        names.append(true);
        names.append(false);
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringViewArray::from(vec!["{g1}", "{g2}"])) as ArrayRef,
                Arc::new(names.finish()),
                Arc::new(datafusion::arrow::array::Int64Array::from(vec![
                    Some(1),
                    None,
                ])),
            ],
        )
        .expect("batch");
        let out = to_client(batch, &client).expect("cast");
        assert_eq!(out.schema(), client);
        let guids = out
            .column(0)
            .as_any()
            .downcast_ref::<datafusion::arrow::array::StringArray>()
            .expect("utf8");
        assert_eq!(guids.value(1), "{g2}");
        assert!(out.column(1).is_null(1));
    }
}
