//! The `findings` schema: every completed hunt run in the store, as tables.
//!
//! `findings."<hunt>"` is the hunt's latest completed run and `findings."<hunt>_<run id>"`
//! each completed run. A run is complete when its manifest exists, and a local run
//! becomes visible by one rename, so a reader never sees a partial run; the store is
//! listed again for a lookup when its last listing is over a second old, so a run that
//! completes while the server is up is served a second later. A run that found nothing to score (no `findings.parquet`)
//! is an empty table.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use datafusion::catalog::{MemTable, SchemaProvider, Session, TableProvider};
use datafusion::common::DataFusionError;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::SessionState;

use crate::hunt::store::{MANIFEST, Store};

/// Name of the schema that holds the runs.
pub const FINDINGS_SCHEMA: &str = "findings";

/// How long one listing of the store serves lookups: a `GetTables` call looks up every
/// table, and should list the store once, not once per table.
const LISTING_FRESH_FOR: Duration = Duration::from_secs(1);

/// File name of a run's scored entities.
const FINDINGS_FILE: &str = "findings.parquet";

/// One servable table: a hunt's run.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RunTable {
    hunt: String,
    run: String,
}

/// The `findings` schema over a store.
#[derive(Debug)]
pub struct FindingsSchema {
    store: Store,
    state: SessionState,
    /// Table name to run, as of the last listing.
    listed: RwLock<BTreeMap<String, RunTable>>,
    /// When the store was last listed.
    listed_at: Mutex<Option<Instant>>,
}

impl FindingsSchema {
    /// The schema over `store`; `state` reads the Parquet footers.
    pub fn new(store: Store, state: SessionState) -> Self {
        Self {
            store,
            state,
            listed: RwLock::new(BTreeMap::new()),
            listed_at: Mutex::new(None),
        }
    }

    /// Lists the store again: every hunt's completed runs.
    ///
    /// # Errors
    /// The store cannot be listed (unreachable, no permission).
    pub async fn refresh(&self) -> Result<(), DataFusionError> {
        let mut tables = BTreeMap::new();
        let by_hunt = self
            .store
            .runs_by_hunt()
            .await
            .map_err(|e| DataFusionError::External(e.into()))?;
        for (hunt, runs) in by_hunt
            .iter()
            .filter(|(h, _)| crate::hunt::pack::is_hunt_name(h))
        {
            for run in runs {
                tables.insert(
                    format!("{}_{run}", hunt),
                    RunTable {
                        hunt: hunt.to_string(),
                        run: run.clone(),
                    },
                );
            }
            if let Some(latest) = runs.last() {
                tables.insert(
                    hunt.to_string(),
                    RunTable {
                        hunt: hunt.to_string(),
                        run: latest.clone(),
                    },
                );
            }
        }
        *self.listed.write().unwrap_or_else(|e| e.into_inner()) = tables;
        *self.listed_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        Ok(())
    }

    /// [`FindingsSchema::refresh`] unless the last listing is younger than
    /// [`LISTING_FRESH_FOR`].
    async fn refresh_if_stale(&self) -> Result<(), DataFusionError> {
        let fresh = self
            .listed_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|at| at.elapsed() < LISTING_FRESH_FOR);
        if fresh { Ok(()) } else { self.refresh().await }
    }

    async fn provider(
        &self,
        table: &RunTable,
    ) -> Result<Arc<dyn TableProvider>, DataFusionError> {
        let dir = self.store.results_dir(&table.hunt).join(&table.run);
        let findings = dir.join(FINDINGS_FILE);
        let exists = findings
            .exists()
            .await
            .map_err(|e| DataFusionError::External(e.into()))?;
        if !exists {
            // A run that found nothing to score wrote its manifest and no findings.
            let manifest = dir.join(MANIFEST);
            return if manifest
                .exists()
                .await
                .map_err(|e| DataFusionError::External(e.into()))?
            {
                let empty = Arc::new(datafusion::arrow::datatypes::Schema::empty());
                Ok(Arc::new(MemTable::try_new(empty, vec![vec![]])?))
            } else {
                Err(DataFusionError::Plan(format!(
                    "run {} of {} is gone from the store",
                    table.run, table.hunt
                )))
            };
        }
        let url = ListingTableUrl::parse(findings.table_url())?;
        let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
            .with_file_extension(".parquet");
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .infer_schema(&self.state as &dyn Session)
            .await?;
        Ok(Arc::new(ListingTable::try_new(config)?))
    }
}

#[tonic::async_trait]
impl SchemaProvider for FindingsSchema {
    fn table_names(&self) -> Vec<String> {
        self.listed
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    async fn table(
        &self,
        name: &str,
    ) -> Result<Option<Arc<dyn TableProvider>>, DataFusionError> {
        self.refresh_if_stale().await?;
        let table = self
            .listed
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned();
        match table {
            Some(table) => self.provider(&table).await.map(Some),
            None => Ok(None),
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        self.listed
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(name)
    }
}
