"""The local Argilla stack that curate installs and starts itself, all on 127.0.0.1.

- OpenSearch 2.19.6: a single embedded node (opensearch/, a Maven project built here from
  Maven Central artifacts; it registers the k-NN plugin's `index.knn` index setting, which
  Argilla sets, so that Argilla runs unmodified);
- Redis (Debian's redis-server), which the Argilla server requires;
- the Argilla server 2.8.0 and its background worker, in a virtual environment of their own
  (argilla/requirements.txt: their pins clash with curate's).

Installed once under CURATE_STACK_HOME (default ~/.cache/curate/stack); run state, data and
logs live in the workspace's `argilla/` folder. Users with their own server set
ARGILLA_API_URL / ARGILLA_API_KEY (or [argilla] in curate.toml) and start nothing.
"""
