package main

// The schema comes from the server the client will talk to; genqlient then
// writes generated.go and operations.json from it and operations.graphql.
//go:generate sh -c "curl -fsS \"${DOLLAR}{APIWS_URL:-http://localhost:8080}/graphql/schema.graphql\" -o schema.graphql"
//go:generate go tool genqlient
