# Sourced by the stub launchers: `stub_record NAME ARG…` appends one line to $STUB_LOG with the
# variables a launcher hands on (rank, rendezvous, environment) and the argv it was given, in one
# write so that lines of concurrent processes do not interleave. Fields: NAME, then \x1e KEY=VALUE…,
# then \x1d and the argv joined by \x1f. test/script/stub-log.ts parses it.
stub_record() {
  local name=$1 line var
  shift
  line=$name
  for var in RPO_NODE_RANK RPO_NNODES RPO_MASTER_ADDR RPO_MASTER_PORT SLURM_NODEID SLURM_PROCID \
    OMPI_COMM_WORLD_RANK OMPI_COMM_WORLD_SIZE RANK LOCAL_RANK WORLD_SIZE MASTER_ADDR MASTER_PORT \
    TF_CONFIG JAX_COORDINATOR_ADDRESS JAX_NUM_PROCESSES JAX_PROCESS_ID RAY_ADDRESS CONDA_PREFIX \
    VIRTUAL_ENV STUB_MODULES STUB_IN_CONTAINER RPO_RUN_ID; do
    line+=$'\x1e'"$var=${!var-}"
  done
  line+=$'\x1d'
  local arg
  for arg in "$@"; do line+="$arg"$'\x1f'; done
  printf '%s\n' "$line" >>"$STUB_LOG"
}
