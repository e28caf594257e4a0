-- Every change to applications or endpoints, by any node or by hand, is announced on
-- `hookwire_config` at commit, so every node drops its cached configuration.
CREATE FUNCTION hookwire_config_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hookwire_config', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;

CREATE TRIGGER applications_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON applications
    FOR EACH STATEMENT EXECUTE FUNCTION hookwire_config_changed();
CREATE TRIGGER endpoints_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON endpoints
    FOR EACH STATEMENT EXECUTE FUNCTION hookwire_config_changed();
