# Single entry point. `make test` is the README's (and CI's) test command.
.PHONY: help demo setup test bench lint format typecheck services-up services-down up down smoke clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

demo:  ## Set up, then run examples/landing through the real sensor and job into demo-output/
	bash scripts/bootstrap.sh
	@status=0; .venv/bin/spatial-etl local run examples/landing \
	  --out demo-output || status=$$?; \
	[ $$status -le 1 ] || exit $$status; \
	echo; echo "demo-output/ (exit status $$status: examples/landing/manifests/roads_2026.json" \
	  "is rejected on purpose):"; \
	find demo-output -type f -not -name '.*' | sort | sed 's/^/  /'

setup:  ## Install system packages (GDAL, PostgreSQL+PostGIS) and .venv from uv.lock
	bash scripts/bootstrap.sh

test:  ## Set up, start PostGIS + S3, run ruff, mypy --strict and pytest, stop the services
	bash scripts/test.sh

bench:  ## Executor vs raw GDAL/PostGIS: time and peak memory (bench/README.md; BENCH_ARGS=...)
	bash scripts/bench.sh $(BENCH_ARGS)

lint:  ## ruff check and format check
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format:  ## Apply ruff's formatting and safe fixes
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

typecheck:  ## mypy --strict over every distribution
	.venv/bin/mypy libs/spatial_etl/src services/dagster/src services/web/src plugins/vector_boundary/src plugins/satellite_raster/src plugins/vector_features/src plugins/raster_mosaic/src bench/run_bench.py bench/local_runner.py

services-up:  ## Start PostGIS and moto's S3 server for tests (writes .run/services.env)
	bash scripts/services.sh start

services-down:  ## Stop them and remove their data
	bash scripts/services.sh stop

up:  ## Build and start the Compose stack (checks Compose's version and that .env has no change-me)
	bash scripts/compose-up.sh

down:  ## Stop the Compose stack (data volumes kept; `docker compose down -v` deletes them)
	docker compose down

smoke:  ## Upload examples/landing's districts batch to the running stack; wait for success
	bash scripts/smoke.sh

clean:  ## Remove the virtual environments and caches
	rm -rf .venv .tools .run .mypy_cache .ruff_cache .pytest_cache
