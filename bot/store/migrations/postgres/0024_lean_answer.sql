-- The answer's function without the answer count (PostgreSQL only; ../0024_lean_answer.sql is its empty twin).
-- With four bot processes on one database (issue 22) the two cores, not one process, are the limit, so
-- what the server spends per answer is what they lose. The function bumped the writer's task_counts row
-- for every answer: in a group commit of forty answers, forty versions of one row in one transaction,
-- each bump finding the row by walking the versions before it. With p_count false the caller counts the
-- answer in the transaction's ScoreBook instead, written once before COMMIT (bot/store/scores.py); it asks
-- that for tasks without a quota, whose counts nothing in the transaction decides on (a quota's check and
-- the progress read use the counts of quota tasks only). Measured on one connection, forty answers a
-- transaction: 233 -> 197 microseconds of server CPU per answer (fourteen a transaction: 230 -> 140).

DROP FUNCTION crowdpulse_record_answer(
    BIGINT, TEXT, BIGINT, TEXT, TEXT, BIGINT, BIGINT, BOOLEAN, INTEGER, BIGINT, BIGINT, BIGINT, TEXT, TEXT, BOOLEAN,
    TEXT, TEXT, TEXT, TEXT, BIGINT, BIGINT, TEXT[], TEXT[], TEXT[], BIGINT[]
);
CREATE FUNCTION crowdpulse_record_answer(
    p_round_id BIGINT, p_task_id TEXT, p_user_id BIGINT, p_value TEXT, p_created_at TEXT, p_space_id BIGINT,
    p_quota BIGINT, p_typed BOOLEAN, p_shard INTEGER, p_count BOOLEAN,
    p_award_space_id BIGINT, p_award_round_id BIGINT, p_delta BIGINT, p_reason TEXT, p_detail TEXT,
    p_capped BOOLEAN, p_local_at TEXT, p_today TEXT, p_yesterday TEXT, p_week TEXT,
    p_daily_cap BIGINT, p_streak_bonus BIGINT, p_scopes TEXT[],
    p_badges TEXT[], p_badge_counters TEXT[], p_badge_at_least BIGINT[],
    OUT out_status TEXT, OUT out_answer_id BIGINT, OUT out_paid BIGINT, OUT out_streak_days BIGINT,
    OUT out_streak_bonus BIGINT, OUT out_capped BOOLEAN, OUT out_scopes TEXT[], OUT out_points BIGINT[],
    OUT out_badges TEXT[]
) LANGUAGE plpgsql AS $$
DECLARE
    v_status TEXT;
    v_banned BOOLEAN;
    v_earned BIGINT;
    v_last_day TEXT;
    v_length BIGINT;
    v_counted BIGINT;
    v_delta BIGINT;
    v_badge TEXT;
    i INTEGER;
BEGIN
    SELECT r.status, EXISTS (SELECT 1 FROM bans b WHERE b.space_id = r.space_id AND b.user_id = p_user_id)
        INTO v_status, v_banned FROM rounds r WHERE r.id = p_round_id FOR SHARE;
    IF v_status IS DISTINCT FROM 'open' THEN
        out_status := 'round_closed';
        RETURN;
    END IF;
    IF v_banned THEN
        out_status := 'banned';
        RETURN;
    END IF;
    -- The member's lock (a write: see bot/store/dialects.py lock_member), then their day, read under it.
    UPDATE users SET id = id WHERE id = p_user_id;
    SELECT d.earned INTO v_earned FROM daily_points d WHERE d.user_id = p_user_id AND d.day = p_today;
    SELECT s.last_day, s.length INTO v_last_day, v_length FROM streaks s WHERE s.user_id = p_user_id;
    IF p_quota IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(hashtext('quota:' || p_round_id || ':' || p_task_id));
        IF (SELECT SUM(c.answers) FROM task_counts c WHERE c.round_id = p_round_id AND c.task_id = p_task_id)
                >= p_quota THEN
            out_status := 'quota_full';
            RETURN;
        END IF;
    END IF;
    IF p_typed THEN
        DELETE FROM pending_inputs q WHERE q.user_id = p_user_id AND q.round_id = p_round_id AND q.task_id = p_task_id;
    END IF;
    INSERT INTO answers (round_id, task_id, user_id, value, created_at, space_id)
        VALUES (p_round_id, p_task_id, p_user_id, p_value, p_created_at, p_space_id)
        ON CONFLICT DO NOTHING RETURNING id INTO out_answer_id;
    IF out_answer_id IS NULL THEN
        out_status := 'already_answered';
        RETURN;
    END IF;
    IF p_count THEN  -- else the caller counts it once for its whole group commit
        INSERT INTO task_counts AS c (round_id, task_id, shard, answers) VALUES (p_round_id, p_task_id, p_shard, 1)
            ON CONFLICT (round_id, task_id, shard) DO UPDATE SET answers = c.answers + 1;
    END IF;
    INSERT INTO user_counters AS u (user_id, counter, value) VALUES (p_user_id, 'answers', 1)
        ON CONFLICT (user_id, counter) DO UPDATE SET value = u.value + 1 RETURNING u.value INTO v_counted;

    v_delta := p_delta;
    IF p_capped AND p_daily_cap > 0 AND p_delta > 0 THEN
        v_delta := GREATEST(0, LEAST(p_delta, p_daily_cap - COALESCE(v_earned, 0)));
    END IF;
    out_capped := v_delta < p_delta;
    INSERT INTO ledger (user_id, space_id, round_id, week, delta, reason, detail, source_key, created_at)
        VALUES (p_user_id, p_award_space_id, p_award_round_id, p_week, v_delta, p_reason, p_detail,
                'answer:' || out_answer_id, p_local_at);
    out_streak_days := 0;
    out_streak_bonus := 0;
    IF p_capped THEN
        INSERT INTO daily_points AS d (user_id, day, earned) VALUES (p_user_id, p_today, v_delta)
            ON CONFLICT (user_id, day) DO UPDATE SET earned = d.earned + excluded.earned;
        IF v_last_day = p_today THEN
            out_streak_days := v_length;
        ELSE
            out_streak_days := CASE WHEN v_last_day = p_yesterday THEN COALESCE(v_length, 0) + 1 ELSE 1 END;
            INSERT INTO streaks AS s (user_id, last_day, length, best)
                VALUES (p_user_id, p_today, out_streak_days, out_streak_days)
                ON CONFLICT (user_id) DO UPDATE SET last_day = excluded.last_day, length = excluded.length,
                    best = CASE WHEN s.best > excluded.length THEN s.best ELSE excluded.length END;
            IF out_streak_days >= 2 AND p_streak_bonus > 0 THEN
                INSERT INTO ledger (user_id, space_id, round_id, week, delta, reason, detail, source_key, created_at)
                    VALUES (p_user_id, p_award_space_id, p_award_round_id, p_week, p_streak_bonus, 'streak',
                            out_streak_days::TEXT, 'streak:' || p_user_id || ':' || p_today, p_local_at)
                    ON CONFLICT (source_key) DO NOTHING;
                IF FOUND THEN
                    out_streak_bonus := p_streak_bonus;
                END IF;
            END IF;
        END IF;
    END IF;
    out_paid := v_delta + out_streak_bonus;
    IF out_paid <> 0 AND cardinality(p_scopes) > 0 THEN
        WITH added AS (
            INSERT INTO scores AS t (scope, user_id, points)
                SELECT scope, p_user_id, out_paid FROM unnest(p_scopes) AS scope
                ON CONFLICT (scope, user_id) DO UPDATE SET points = t.points + excluded.points
                RETURNING t.scope, t.points
        )
        SELECT array_agg(added.scope), array_agg(added.points) INTO out_scopes, out_points FROM added;
    END IF;
    -- Badges in the order given: the answer count's crossed, then the streak's reached.
    out_badges := '{}';
    FOR i IN 1 .. COALESCE(cardinality(p_badges), 0) LOOP
        IF (p_badge_counters[i] = 'answers' AND v_counted - 1 < p_badge_at_least[i] AND p_badge_at_least[i] <= v_counted)
                OR (p_badge_counters[i] = 'streak' AND p_badge_at_least[i] = out_streak_days) THEN
            INSERT INTO user_badges (user_id, badge, earned_at) VALUES (p_user_id, p_badges[i], p_created_at)
                ON CONFLICT DO NOTHING RETURNING badge INTO v_badge;
            IF v_badge IS NOT NULL THEN
                out_badges := out_badges || v_badge;
            END IF;
        END IF;
    END LOOP;
    out_status := 'recorded';
END;
$$;
