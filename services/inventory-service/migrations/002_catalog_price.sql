-- inventory-service: the catalog price of each product (SPEC 2 and 7: prices
-- belong to the catalog, inventory owns them). price_version grows with every
-- change, so a copy of the catalog (order-service's, kept by
-- ProductPriceChanged) never goes back to an older price. A product made
-- before prices has none (NULL) and cannot be ordered until an admin sets one
-- (PUT /products/{id}/price).
ALTER TABLE products
    ADD COLUMN price_cents bigint CHECK (price_cents BETWEEN 0 AND 100000000),
    ADD COLUMN price_version bigint NOT NULL DEFAULT 0;
