package apiws

// The GraphQL executor and models in graph/ are generated from
// graph/schema/*.graphqls by gqlgen, configured in gqlgen.yml.
//go:generate go tool gqlgen generate
