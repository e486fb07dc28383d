-- order-service's copy of the catalog's prices (SPEC 7; docs/architecture.md,
-- "Catalog prices"): the newest price of each product that inventory-service
-- announced (ProductPriceChanged on product-events), with its version. An
-- order takes its prices from here, so creating one never waits for
-- inventory-service.
CREATE TABLE catalog_prices (
    product_id  text PRIMARY KEY CHECK (length(product_id) BETWEEN 1 AND 64),
    price_cents bigint NOT NULL CHECK (price_cents BETWEEN 0 AND 100000000),
    version     bigint NOT NULL CHECK (version > 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
