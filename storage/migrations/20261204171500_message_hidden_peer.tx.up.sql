CREATE INDEX messages_hidden_peer ON messages (number_id, peer_lid) WHERE peer = '';
