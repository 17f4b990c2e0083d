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
use arrow_flight::sql::metadata::SqlInfoData;
use arrow_flight::sql::server::FlightSqlService;
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest,
    ActionCreatePreparedStatementResult, Any, CommandGetCatalogs, CommandGetDbSchemas,
    CommandGetSqlInfo, CommandGetTableTypes, CommandGetTables,
    CommandPreparedStatementQuery, CommandStatementQuery, SqlInfo, TicketStatementQuery,
};
use arrow_flight::{
    Action, FlightDescriptor, FlightInfo, HandshakeRequest, HandshakeResponse,
    IpcMessage, SchemaAsIpc, Ticket,
};
use bytes::Bytes;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::ipc::writer::IpcWriteOptions;
use datafusion::common::DataFusionError;
use datafusion::dataframe::DataFrame;
use datafusion::execution::SessionState;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::context::SQLOptions;
use datafusion::physical_plan::execute_stream;
use datafusion::prelude::SessionContext;
use futures::{Stream, TryStreamExt};
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status, Streaming};

use super::auth::{Tokens, Users, basic_credentials, bearer_token};
use super::catalog::FindingsSchema;
use super::wire::*;
pub use super::wire::{client_schema, client_type, plain_read};

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
