// Runs once, when the `mongodb` Compose service initialises an empty data volume
// (/docker-entrypoint-initdb.d, as the root user). Creates the ledger's application user
// with the least it needs: readWrite on the ledger's database, plus `collMod` (which
// readWrite lacks) so that `spatial-etl ledger init` can replace validators. Not dbAdmin:
// that role carries bypassDocumentValidation, which would let the application skip the
// validators it installs. Collections, validators and indexes are NOT created here: the
// `ledger-init` service runs `spatial-etl ledger init`, generated from the models.
// Also creates the web catalogue's account with the built-in `read` role on the same
// database only: `spatial-etl serve` cannot write the ledger whatever its code does.
const user = process.env.MONGO_APP_USERNAME;
const password = process.env.MONGO_APP_PASSWORD;
const database = process.env.SPATIAL_ETL_MONGODB_DATABASE || "spatial_etl";
const reader = process.env.MONGO_CATALOGUE_USERNAME;
const readerPassword = process.env.MONGO_CATALOGUE_PASSWORD;
if (!user || !password) {
  throw new Error("MONGO_APP_USERNAME and MONGO_APP_PASSWORD must be set");
}
if (!reader || !readerPassword) {
  throw new Error("MONGO_CATALOGUE_USERNAME and MONGO_CATALOGUE_PASSWORD must be set");
}
const ledger = db.getSiblingDB(database);
ledger.createRole({
  role: "ledgerValidatorAdmin",
  privileges: [{ resource: { db: database, collection: "" }, actions: ["collMod"] }],
  roles: [],
});
ledger.createUser({
  user: user,
  pwd: password,
  roles: [
    { role: "readWrite", db: database },
    { role: "ledgerValidatorAdmin", db: database },
  ],
});
ledger.createUser({
  user: reader,
  pwd: readerPassword,
  roles: [{ role: "read", db: database }],
});
print(`spatial-etl: users ${user} (readWrite) and ${reader} (read) created in ${database}`);
