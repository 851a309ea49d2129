//! The actor registry: actors and their keys (added, rotated, revoked), each change a logged
//! operator record.

use super::*;

impl Service {
    // ----- actor registry -----

    /// One actor.
    pub fn actor(&self, id: &str) -> Result<Actor> {
        self.find_actor(id)?
            .ok_or_else(|| ServiceError::NotFound(format!("no actor with id {id:?}")))
    }

    pub(crate) fn find_actor(&self, id: &str) -> Result<Option<Actor>> {
        match self.store.get(Cf::Actors, id.as_bytes())? {
            Some(v) => Ok(Some(decode_json("actor", &v)?)),
            None => Ok(None),
        }
    }

    /// Actors with ids after `after`, at most `limit`.
    pub fn list_actors(&self, after: &str, limit: usize) -> Result<Vec<Actor>> {
        let start = if after.is_empty() {
            Vec::new()
        } else {
            key_after(after.as_bytes())
        };
        self.store
            .range(
                Cf::Actors,
                &start,
                None,
                limit.min(crate::service::master::MAX_LIST),
            )?
            .iter()
            .map(|(_, v)| Ok(decode_json("actor", v)?))
            .collect()
    }

    pub(super) fn key_op(
        &self,
        actor: &Actor,
        k: &KeyInput,
        at: i64,
    ) -> Result<(ActorOp, ActorKey)> {
        let vk = decode_public_key(&k.public_key)
            .map_err(|e| ServiceError::Invalid(format!("keys: {e}")))?;
        let kid = KeyId::of(&vk).to_string();
        if actor.keys.iter().any(|x| x.kid == kid) {
            return Err(ServiceError::Conflict(format!(
                "actor {} already has key {kid}",
                actor.id
            )));
        }
        if actor.keys.len() >= MAX_ACTOR_KEYS {
            return Err(ServiceError::Conflict(format!(
                "actor {} has {MAX_ACTOR_KEYS} keys, the most allowed",
                actor.id
            )));
        }
        let not_before = k.not_before.unwrap_or(at);
        check_unix("not_before", not_before)?;
        if let Some(na) = k.not_after {
            check_unix("not_after", na)?;
            if na <= not_before {
                return Err(ServiceError::Invalid(
                    "not_after must be later than not_before".into(),
                ));
            }
        }
        if let Some(r) = &k.replaces {
            if !actor.keys.iter().any(|x| &x.kid == r) {
                return Err(ServiceError::NotFound(format!(
                    "actor {} has no key {r} to replace",
                    actor.id
                )));
            }
        }
        let public_key = base64::engine::general_purpose::STANDARD.encode(vk.as_bytes());
        let op = ActorOp::AddKey {
            actor: actor.id.clone(),
            kid: kid.clone(),
            public_key: public_key.clone(),
            not_before,
            not_after: k.not_after,
            replaces: k.replaces.clone(),
            at,
        };
        let key = ActorKey {
            kid,
            public_key,
            not_before,
            not_after: k.not_after,
            revoked_from: None,
            revoke_reason: None,
            replaces: k.replaces.clone(),
            leaf_index: 0,
        };
        Ok((op, key))
    }

    pub(super) fn append_ops(
        &self,
        ops: Vec<ActorOp>,
        mut actor: Actor,
        apply: impl FnOnce(&mut Actor, u64),
    ) -> Result<Actor> {
        let leaves: Vec<PendingLeaf> = ops
            .iter()
            .map(|op| {
                let data = op.leaf();
                // Never log a leaf that does not read back (the log is append-only).
                LeafRecord::parse(&data).map_err(|e| {
                    ServiceError::Internal(format!("refusing to log an unreadable record: {e}"))
                })?;
                Ok(PendingLeaf {
                    hash: merkle::leaf_hash(&data),
                    data,
                })
            })
            .collect::<Result<_>>()?;
        let n = leaves.len() as u64;
        let mut out = None;
        self.append_leaves(leaves, |first, wb| {
            apply(&mut actor, first);
            actor.records.extend(first..first + n);
            wb.put(Cf::Actors, actor.id.as_bytes(), encode_json(&actor));
            out = Some(actor.clone());
            Ok(())
        })?;
        self.registry_generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        out.ok_or_else(|| ServiceError::Internal("actor write did not run".into()))
    }

    /// Registers an actor with its keys: one `register` and one `add_key` log record each.
    #[instrument(skip(self, input), fields(actor = %input.id))]
    pub fn register_actor(&self, input: &ActorInput) -> Result<Actor> {
        check_actor_id(&input.id).map_err(ServiceError::Invalid)?;
        let organisation = check_text("organisation", &input.organisation)?;
        let country = CountryCode::parse(&input.country)
            .map_err(|e| ServiceError::Invalid(format!("country: {e}")))?;
        if input.keys.is_empty() {
            return Err(ServiceError::Invalid(
                "an actor needs at least one public key".into(),
            ));
        }
        if input.keys.iter().any(|k| k.replaces.is_some()) {
            return Err(ServiceError::Invalid(
                "replaces is for rotating a key of an existing actor".into(),
            ));
        }
        let _g = lock(&self.custody)?;
        if self.find_actor(&input.id)?.is_some() {
            return Err(ServiceError::Conflict(format!(
                "an actor with id {:?} exists already",
                input.id
            )));
        }
        let at = now_unix();
        let mut actor = Actor {
            id: input.id.clone(),
            organisation: organisation.clone(),
            country: country.as_str().to_string(),
            role: input.role,
            created_at: at,
            keys: Vec::new(),
            records: Vec::new(),
        };
        let mut ops = vec![ActorOp::Register {
            actor: actor.id.clone(),
            organisation,
            country: actor.country.clone(),
            role: input.role,
            at,
        }];
        for k in &input.keys {
            let (op, key) = self.key_op(&actor, k, at)?;
            ops.push(op);
            actor.keys.push(key);
        }
        let a = self.append_ops(ops, actor, |a, first| {
            for (i, k) in a.keys.iter_mut().enumerate() {
                k.leaf_index = first + 1 + i as u64;
            }
        })?;
        info!(actor = %a.id, role = %a.role, keys = a.keys.len(), "registered actor");
        Ok(a)
    }

    /// Adds (or, with `replaces`, rotates in) a key.
    #[instrument(skip(self, input))]
    pub fn add_actor_key(&self, id: &str, input: &KeyInput) -> Result<Actor> {
        let _g = lock(&self.custody)?;
        let mut actor = self.actor(id)?;
        let at = now_unix();
        let (op, key) = self.key_op(&actor, input, at)?;
        if let Some(r) = &input.replaces {
            for k in actor.keys.iter_mut().filter(|k| &k.kid == r) {
                k.not_after = Some(
                    k.not_after
                        .map_or(key.not_before, |na| na.min(key.not_before)),
                );
            }
        }
        actor.keys.push(key);
        let a = self.append_ops(vec![op], actor, |a, first| {
            if let Some(k) = a.keys.last_mut() {
                k.leaf_index = first;
            }
        })?;
        info!(actor = %a.id, "added actor key");
        Ok(a)
    }

    /// Revokes a key from `revoked_from` (default now).
    #[instrument(skip(self, input))]
    pub fn revoke_actor_key(&self, id: &str, kid: &str, input: &RevokeInput) -> Result<Actor> {
        let reason = check_text("reason", &input.reason)?;
        let _g = lock(&self.custody)?;
        let mut actor = self.actor(id)?;
        let at = now_unix();
        // Default: from the next second, so records accepted before the revocation (possibly
        // signed in this very second) are not flagged; new submissions are refused at once
        // (see `submit_at`).
        let from = input.revoked_from.unwrap_or(at + 1);
        check_unix("revoked_from", from)?;
        let k = actor
            .keys
            .iter_mut()
            .find(|k| k.kid == kid)
            .ok_or_else(|| ServiceError::NotFound(format!("actor {id} has no key {kid}")))?;
        if let Some(prev) = k.revoked_from {
            if prev <= from {
                return Err(ServiceError::Conflict(format!(
                    "key {kid} is already revoked from {}",
                    crate::service::rfc3339(prev)
                )));
            }
        }
        k.revoked_from = Some(from);
        k.revoke_reason = Some(reason.clone());
        let op = ActorOp::RevokeKey {
            actor: id.to_string(),
            kid: kid.to_string(),
            revoked_from: from,
            reason,
            at,
        };
        let a = self.append_ops(vec![op], actor, |_, _| {})?;
        info!(actor = %id, kid, "revoked actor key");
        Ok(a)
    }

    // ----- submissions -----
}
