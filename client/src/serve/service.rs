//! The Flight SQL service: authentication, statements, prepared statements and catalog
//! metadata over one [`SessionContext`] connected to the cluster.
//!
//! Statements are read-only (queries, `EXPLAIN`, `SHOW`): DDL, DML and session-changing
//! statements are refused, so no client can change what another one sees. A statement is
//! planned on the server. A plain read of stored tables (columns, filters and limits over
//! `findings.*`, `events` or a `--table`, with no function, aggregate, join or sort) is
//! read from the store by the server itself: a job on the cluster would only copy the
//! same rows through an executor's shuffle files and back. Everything else runs on the
//! cluster. Either way the result is streamed to the client batch by batch; nothing is
//! collected whole here, and a client that goes away drops its stream, and with it the
//! batches it held.

use std::pin::Pin;
use std::sync::Arc;

use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::sql::metadata::{SqlInfoData, SqlInfoDataBuilder};
use arrow_flight::sql::server::FlightSqlService;
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest,
    ActionCreatePreparedStatementResult, Any, CommandGetCatalogs, CommandGetDbSchemas,
    CommandGetSqlInfo, CommandGetTableTypes, CommandGetTables,
    CommandPreparedStatementQuery, CommandStatementQuery, ProstMessageExt, SqlInfo,
    SqlNullOrdering, SqlSupportedCaseSensitivity, SqlSupportedTransaction,
    TicketStatementQuery,
};
use arrow_flight::{
    Action, FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest,
    HandshakeResponse, IpcMessage, SchemaAsIpc, Ticket,
};
use bytes::Bytes;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use datafusion::arrow::ipc::writer::IpcWriteOptions;
use datafusion::common::DataFusionError;
use datafusion::common::tree_node::TreeNode;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::TableType;
use datafusion::execution::SessionState;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::context::SQLOptions;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::physical_plan::execute_stream;
use datafusion::prelude::SessionContext;
use futures::{Stream, TryStreamExt};
use prost::Message;
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status, Streaming};

use super::auth::{Tokens, Users, basic_credentials, bearer_token};
use super::catalog::FindingsSchema;
use crate::report::error_report;

type FlightStream =
    Pin<Box<dyn Stream<Item = Result<arrow_flight::FlightData, Status>> + Send>>;

/// Huntsman's Flight SQL service.
pub struct HuntsmanFlightSql {
    ctx: SessionContext,
    /// Plans plain reads for this process (DataFusion's own planner, the context's
    /// object stores and settings), not for the cluster.
    local: SessionState,
    findings: Arc<FindingsSchema>,
    users: Arc<Users>,
    tokens: Arc<Tokens>,
    sql_info: Arc<SqlInfoData>,
}

impl HuntsmanFlightSql {
    /// The service over `ctx` (which already holds the `findings` schema and the
    /// tables), for `users`, issuing `tokens`.
    ///
    /// # Errors
    /// The server's SQL information cannot be built (never with these constants).
    pub fn new(
        ctx: SessionContext,
        findings: Arc<FindingsSchema>,
        users: Users,
        tokens: Tokens,
    ) -> Result<Self, DataFusionError> {
        let local = SessionStateBuilder::new()
            .with_config(ctx.copied_config())
            .with_runtime_env(ctx.runtime_env())
            .with_default_features()
            .build();
        Ok(Self {
            ctx,
            local,
            findings,
            users: Arc::new(users),
            tokens: Arc::new(tokens),
            sql_info: Arc::new(sql_info()?),
        })
    }

    /// The user a call's bearer token belongs to.
    fn authorize<T>(&self, request: &Request<T>) -> Result<String, Status> {
        let token = bearer_token(request.metadata())?;
        self.tokens.check(token)
    }

    /// Plans `sql` read-only.
    async fn plan(&self, user: &str, sql: &str) -> Result<DataFrame, Status> {
        tracing::info!(user, sql = %truncate(sql, 500), "flight sql statement");
        let options = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        self.ctx
            .sql_with_options(sql, options)
            .await
            .map_err(status_of)
    }

    /// Runs a planned statement, here when it is a [`plain_read`] and on the cluster
    /// otherwise, and streams its batches.
    async fn stream(&self, df: DataFrame) -> Result<Response<FlightStream>, Status> {
        let schema = Arc::new(client_schema(df.schema().as_arrow()));
        let batches = if plain_read(df.logical_plan()) {
            tracing::debug!("flight sql: a plain read, served from the store");
            let (_, plan) = df.into_parts();
            let physical = self
                .local
                .create_physical_plan(&plan)
                .await
                .map_err(status_of)?;
            execute_stream(physical, self.local.task_ctx()).map_err(status_of)?
        } else {
            df.execute_stream().await.map_err(status_of)?
        };
        let out = Arc::clone(&schema);
        let batches = batches
            .and_then(move |batch| futures::future::ready(to_client(batch, &out)))
            .map_err(|e| FlightError::from_external_error(Box::new(e)));
        let flight = FlightDataEncoderBuilder::new()
            .with_schema(schema)
            .build(batches)
            .map_err(|e| match e {
                FlightError::ExternalError(inner) => {
                    match inner.downcast::<DataFusionError>() {
                        Ok(df) => status_of(*df),
                        Err(other) => Status::internal(other.to_string()),
                    }
                }
                other => Status::from(other),
            });
        Ok(Response::new(Box::pin(flight)))
    }

    /// A metadata result as a one-batch stream.
    fn batch(batch: RecordBatch) -> Response<FlightStream> {
        let schema = batch.schema();
        let stream = FlightDataEncoderBuilder::new()
            .with_schema(schema)
            .build(futures::stream::once(async { Ok(batch) }))
            .map_err(Status::from);
        Response::new(Box::pin(stream))
    }
}

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
fn to_client(
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
fn flight_info(
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
fn status_of(e: DataFusionError) -> Status {
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
fn internal(e: impl std::fmt::Display) -> Status {
    Status::internal(e.to_string())
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

fn utf8(bytes: &[u8], what: &str) -> Result<String, Status> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| Status::invalid_argument(format!("the {what} is not UTF-8")))
}

/// What the server tells `GetSqlInfo`.
fn sql_info() -> Result<SqlInfoData, DataFusionError> {
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

fn table_type_name(t: TableType) -> &'static str {
    match t {
        TableType::Base => "TABLE",
        TableType::View => "VIEW",
        TableType::Temporary => "LOCAL TEMPORARY",
    }
}

#[tonic::async_trait]
impl FlightSqlService for HuntsmanFlightSql {
    type FlightService = HuntsmanFlightSql;

    async fn do_handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<
        Response<Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>>,
        Status,
    > {
        let (user, password) = basic_credentials(request.metadata())?;
        let users = Arc::clone(&self.users);
        let name = user.clone();
        let ok = tokio::task::spawn_blocking(move || users.verify(&name, &password))
            .await
            .map_err(|_| Status::internal("checking the password failed"))?;
        if !ok {
            tracing::warn!(user = %truncate(&user, 64), "flight sql: failed login");
            return Err(Status::unauthenticated("wrong user name or password"));
        }
        let token = self.tokens.issue(&user);
        tracing::info!(user, "flight sql: login");
        let bearer = MetadataValue::try_from(format!("Bearer {token}"))
            .map_err(|_| Status::internal("the token is not a header value"))?;
        let reply = HandshakeResponse {
            protocol_version: 0,
            payload: Bytes::from(token),
        };
        let stream = futures::stream::once(async { Ok(reply) });
        let mut response: Response<
            Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>,
        > = Response::new(Box::pin(stream));
        response.metadata_mut().insert("authorization", bearer);
        Ok(response)
    }

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let user = self.authorize(&request)?;
        let df = self.plan(&user, &query.query).await?;
        let ticket = TicketStatementQuery {
            statement_handle: Bytes::from(query.query.into_bytes()),
        };
        flight_info(df.schema().as_arrow(), &ticket, request.into_inner())
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        let user = self.authorize(&request)?;
        let sql = utf8(&ticket.statement_handle, "statement handle")?;
        let df = self.plan(&user, &sql).await?;
        self.stream(df).await
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        let user = self.authorize(&request)?;
        let df = self.plan(&user, &query.query).await?;
        let options = IpcWriteOptions::default();
        let schema = client_schema(df.schema().as_arrow());
        let IpcMessage(schema) = SchemaAsIpc::new(&schema, &options).try_into().map_err(
            |e: datafusion::arrow::error::ArrowError| {
                Status::internal(format!("encoding the result schema: {e}"))
            },
        )?;
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: Bytes::from(query.query.into_bytes()),
            dataset_schema: schema,
            parameter_schema: Bytes::new(),
        })
    }

    async fn get_flight_info_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let user = self.authorize(&request)?;
        let sql = utf8(
            &query.prepared_statement_handle,
            "prepared statement handle",
        )?;
        let df = self.plan(&user, &sql).await?;
        flight_info(df.schema().as_arrow(), &query, request.into_inner())
    }

    async fn do_get_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        let user = self.authorize(&request)?;
        let sql = utf8(
            &query.prepared_statement_handle,
            "prepared statement handle",
        )?;
        let df = self.plan(&user, &sql).await?;
        self.stream(df).await
    }

    async fn do_action_close_prepared_statement(
        &self,
        _query: ActionClosePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<(), Status> {
        // Handles are the statement itself: nothing is held between calls.
        self.authorize(&request).map(|_| ())
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request)?;
        let schema = query.into_builder().schema();
        flight_info(&schema, &query, request.into_inner())
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authorize(&request)?;
        let mut builder = query.into_builder();
        for catalog in self.ctx.catalog_names() {
            builder.append(catalog);
        }
        let batch = builder.build().map_err(internal)?;
        Ok(Self::batch(batch))
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request)?;
        let schema = query.clone().into_builder().schema();
        flight_info(&schema, &query, request.into_inner())
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authorize(&request)?;
        let mut builder = query.into_builder();
        for name in self.ctx.catalog_names() {
            if let Some(catalog) = self.ctx.catalog(&name) {
                for schema in catalog.schema_names() {
                    builder.append(&name, schema);
                }
            }
        }
        let batch = builder.build().map_err(internal)?;
        Ok(Self::batch(batch))
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request)?;
        let schema = query.clone().into_builder().schema();
        flight_info(&schema, &query, request.into_inner())
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authorize(&request)?;
        self.findings.refresh().await.map_err(status_of)?;
        let mut builder = query.into_builder();
        for name in self.ctx.catalog_names() {
            let Some(catalog) = self.ctx.catalog(&name) else {
                continue;
            };
            for schema_name in catalog.schema_names() {
                let Some(schema) = catalog.schema(&schema_name) else {
                    continue;
                };
                let mut tables = schema.table_names();
                tables.sort();
                for table in tables {
                    // A run swept between the listing and here is simply not listed.
                    let Ok(Some(provider)) = schema.table(&table).await else {
                        continue;
                    };
                    builder
                        .append(
                            &name,
                            &schema_name,
                            &table,
                            table_type_name(provider.table_type()),
                            &client_schema(&provider.schema()),
                        )
                        .map_err(internal)?;
                }
            }
        }
        let batch = builder.build().map_err(internal)?;
        Ok(Self::batch(batch))
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request)?;
        let schema = query.into_builder().schema();
        flight_info(&schema, &query, request.into_inner())
    }

    async fn do_get_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authorize(&request)?;
        let mut builder = query.into_builder();
        for t in ["TABLE", "VIEW"] {
            builder.append(t);
        }
        let batch = builder.build().map_err(internal)?;
        Ok(Self::batch(batch))
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request)?;
        let schema = query.clone().into_builder(&self.sql_info).schema();
        flight_info(&schema, &query, request.into_inner())
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authorize(&request)?;
        let batch = query
            .into_builder(&self.sql_info)
            .build()
            .map_err(internal)?;
        Ok(Self::batch(batch))
    }

    async fn do_get_fallback(
        &self,
        request: Request<Ticket>,
        message: Any,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authorize(&request)?;
        Err(Status::unimplemented(format!(
            "this server does not serve {}",
            message.type_url
        )))
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{
        ArrayRef, ListBuilder, StringViewArray, StringViewBuilder,
    };

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
