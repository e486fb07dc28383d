-- The command_id each step's command first carried (resends keep it): a
-- reply is applied only when it names its step's (docs/architecture.md,
-- "Replies the saga trusts"); and why a participant's answer contradicted the
-- saga, when one did (the saga is then inconsistent).
ALTER TABLE sagas
    ADD COLUMN payment_command_id uuid,
    ADD COLUMN inventory_command_id uuid,
    ADD COLUMN release_command_id uuid,
    ADD COLUMN refund_command_id uuid,
    ADD COLUMN inconsistency text;

-- Sagas in flight when this is applied wait for their current step's command.
UPDATE sagas SET payment_command_id = command_id WHERE current_step = 'payment';
UPDATE sagas SET inventory_command_id = command_id WHERE current_step = 'inventory';
UPDATE sagas SET release_command_id = command_id WHERE current_step = 'release';
UPDATE sagas SET refund_command_id = command_id WHERE current_step = 'refund';

CREATE INDEX sagas_inconsistent ON sagas (id) WHERE inconsistency IS NOT NULL;
