// Benchmark subgraphs for `make bench-gateway`: four federation subgraphs (accounts,
// inventory, products, reviews) of the same shape, schema and data sizes as the public
// scenario of graphql-hive/graphql-gateways-benchmark, written for this repository in Go so
// that the subgraphs are never the bottleneck of a gateway benchmark.
//
// One process serves all four on one port: POST /accounts, /inventory, /products, /reviews
// (GraphQL over HTTP, JSON), GET /health. Parsed documents are cached by their text (the
// gateways send the same few subgraph queries over and over) and validation is skipped for
// cached documents; each document is validated once, when it is first seen.
//
// Usage: subgraphs -listen 127.0.0.1:4200
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"strings"
	"sync"

	"github.com/graphql-go/graphql"
	"github.com/graphql-go/graphql/gqlerrors"
	"github.com/graphql-go/graphql/language/ast"
	"github.com/graphql-go/graphql/language/parser"
	"github.com/graphql-go/graphql/language/source"
)

type obj = map[string]interface{}

// -- data ---------------------------------------------------------------------------------------

var users = []obj{
	{"id": "1", "name": "Ada Lovelace-Byron", "username": "adalove", "birthday": 1234567890},
	{"id": "2", "name": "Grace B. Hopper", "username": "gracehopper", "birthday": 1234567890},
	{"id": "3", "name": "Edsger Dijkstra", "username": "edsgerwdijk", "birthday": 1234567890},
	{"id": "4", "name": "Barbara Liskov", "username": "bliskov", "birthday": 1234567890},
	{"id": "5", "name": "Donald Knuth", "username": "dknuthtex", "birthday": 1234567890},
	{"id": "6", "name": "Frances Allen", "username": "fallen", "birthday": 1234567890},
}

// The nine products: upc, name, price, weight (the products subgraph owns them).
var products = []obj{
	{"upc": "1", "name": "Table", "price": 899, "weight": 100},
	{"upc": "2", "name": "Couch", "price": 1299, "weight": 1000},
	{"upc": "3", "name": "Glass", "price": 15, "weight": 20},
	{"upc": "4", "name": "Chair", "price": 499, "weight": 100},
	{"upc": "5", "name": "TV", "price": 1299, "weight": 1000},
	{"upc": "6", "name": "Lamp", "price": 6999, "weight": 300},
	{"upc": "7", "name": "Grill", "price": 3999, "weight": 2000},
	{"upc": "8", "name": "Fridge", "price": 100000, "weight": 6000},
	{"upc": "9", "name": "Sofa", "price": 9999, "weight": 800},
}

// Stock per upc (the inventory subgraph); the inventory does not know prices or weights.
var inStock = map[string]bool{
	"1": true, "2": false, "3": false, "4": false, "5": true, "6": true, "7": true, "8": false,
	"9": true,
}

// Eleven reviews; body lengths as in the public scenario (the texts are our own filler).
var reviewSpec = []struct {
	id, upc string
	length  int
}{
	{"1", "1", 445}, {"2", "1", 289}, {"3", "1", 275}, {"4", "1", 143}, {"5", "2", 445},
	{"6", "2", 289}, {"7", "2", 275}, {"8", "2", 143}, {"9", "3", 143}, {"10", "4", 143},
	{"11", "4", 844},
}

var reviews []obj

func filler(seed string, length int) string {
	words := []string{"customer", "quote", "ticket", "pipeline", "renewal", "account",
		"contact", "invoice", "meeting", "follow-up", "proposal", "discount", "segment"}
	var b strings.Builder
	for i := 0; b.Len() < length; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[(i*7+len(seed))%len(words)])
	}
	return b.String()[:length]
}

func init() {
	for _, r := range reviewSpec {
		reviews = append(reviews, obj{
			"__typename": "Review", "id": r.id, "body": filler(r.id, r.length),
			"product": obj{"__typename": "Product", "upc": r.upc},
		})
	}
}

func find(list []obj, key, value string) obj {
	for _, item := range list {
		if item[key] == value {
			return item
		}
	}
	return nil
}

// -- federation plumbing -------------------------------------------------------------------------

var anyScalar = graphql.NewScalar(graphql.ScalarConfig{
	Name:       "_Any",
	Serialize:  func(v interface{}) interface{} { return v },
	ParseValue: func(v interface{}) interface{} { return v },
	ParseLiteral: func(v ast.Value) interface{} {
		return literal(v)
	},
})

func literal(v ast.Value) interface{} {
	switch v := v.(type) {
	case *ast.ObjectValue:
		out := obj{}
		for _, f := range v.Fields {
			out[f.Name.Value] = literal(f.Value)
		}
		return out
	case *ast.ListValue:
		out := []interface{}{}
		for _, item := range v.Values {
			out = append(out, literal(item))
		}
		return out
	default:
		return v.GetValue()
	}
}

var serviceType = graphql.NewObject(graphql.ObjectConfig{
	Name:   "_Service",
	Fields: graphql.Fields{"sdl": &graphql.Field{Type: graphql.String}},
})

func typename(p graphql.ResolveTypeParams, types map[string]*graphql.Object) *graphql.Object {
	if m, ok := p.Value.(obj); ok {
		if name, ok := m["__typename"].(string); ok {
			return types[name]
		}
	}
	return nil
}

// schema builds one subgraph: its root fields plus _service and _entities over the entity types.
func schema(sdl string, root graphql.Fields, entities map[string]*graphql.Object,
	resolve func(rep obj) obj) graphql.Schema {
	var members []*graphql.Object
	for _, t := range entities {
		members = append(members, t)
	}
	entity := graphql.NewUnion(graphql.UnionConfig{
		Name:  "_Entity",
		Types: members,
		ResolveType: func(p graphql.ResolveTypeParams) *graphql.Object {
			return typename(p, entities)
		},
	})
	var types []graphql.Type
	for _, t := range members {
		types = append(types, t)
	}
	root["_service"] = &graphql.Field{
		Type: graphql.NewNonNull(serviceType),
		Resolve: func(graphql.ResolveParams) (interface{}, error) {
			return obj{"sdl": sdl}, nil
		},
	}
	root["_entities"] = &graphql.Field{
		Type: graphql.NewNonNull(graphql.NewList(entity)),
		Args: graphql.FieldConfigArgument{"representations": &graphql.ArgumentConfig{
			Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(anyScalar))),
		}},
		Resolve: func(p graphql.ResolveParams) (interface{}, error) {
			reps, _ := p.Args["representations"].([]interface{})
			out := make([]interface{}, len(reps))
			for i, rep := range reps {
				if m, ok := rep.(map[string]interface{}); ok {
					if found := resolve(m); found != nil {
						out[i] = found
					}
				}
			}
			return out, nil
		},
	}
	s, err := graphql.NewSchema(graphql.SchemaConfig{
		Query: graphql.NewObject(graphql.ObjectConfig{Name: "Query", Fields: root}),
		Types: types,
	})
	if err != nil {
		log.Fatal(err)
	}
	return s
}

func tagged(name string, m obj) obj {
	out := obj{"__typename": name}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// -- accounts -----------------------------------------------------------------------------------

const accountsSDL = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

type Query {
  me: User
  user(id: ID!): User
  users: [User]
}

type User @key(fields: "id") {
  id: ID!
  name: String
  username: String
  birthday: Int
}
`

func accounts() graphql.Schema {
	user := graphql.NewObject(graphql.ObjectConfig{Name: "User", Fields: graphql.Fields{
		"id":       &graphql.Field{Type: graphql.NewNonNull(graphql.ID)},
		"name":     &graphql.Field{Type: graphql.String},
		"username": &graphql.Field{Type: graphql.String},
		"birthday": &graphql.Field{Type: graphql.Int},
	}})
	all := make([]interface{}, len(users))
	for i, u := range users {
		all[i] = tagged("User", u)
	}
	root := graphql.Fields{
		"me": &graphql.Field{Type: user, Resolve: func(graphql.ResolveParams) (interface{}, error) {
			return all[0], nil
		}},
		"user": &graphql.Field{
			Type: user,
			Args: graphql.FieldConfigArgument{"id": &graphql.ArgumentConfig{Type: graphql.NewNonNull(graphql.ID)}},
			Resolve: func(p graphql.ResolveParams) (interface{}, error) {
				if u := find(users, "id", fmt.Sprint(p.Args["id"])); u != nil {
					return tagged("User", u), nil
				}
				return nil, nil
			},
		},
		"users": &graphql.Field{Type: graphql.NewList(user), Resolve: func(graphql.ResolveParams) (interface{}, error) {
			return all, nil
		}},
	}
	return schema(accountsSDL, root, map[string]*graphql.Object{"User": user}, func(rep obj) obj {
		if u := find(users, "id", fmt.Sprint(rep["id"])); u != nil {
			return tagged("User", u)
		}
		return nil
	})
}

// -- inventory ----------------------------------------------------------------------------------

const inventorySDL = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@external", "@requires"])

type Product @key(fields: "upc") {
  upc: String!
  weight: Int @external
  price: Int @external
  inStock: Boolean
  shippingEstimate: Int @requires(fields: "price weight")
}
`

func inventory() graphql.Schema {
	product := graphql.NewObject(graphql.ObjectConfig{Name: "Product", Fields: graphql.Fields{
		"upc":     &graphql.Field{Type: graphql.NewNonNull(graphql.String)},
		"weight":  &graphql.Field{Type: graphql.Int},
		"price":   &graphql.Field{Type: graphql.Int},
		"inStock": &graphql.Field{Type: graphql.Boolean},
		// As in the public scenario, the estimate comes from the inventory's own record, which
		// has neither price nor weight: always null (the required fields are still fetched).
		"shippingEstimate": &graphql.Field{Type: graphql.Int, Resolve: func(p graphql.ResolveParams) (interface{}, error) {
			return nil, nil
		}},
	}})
	root := graphql.Fields{}
	return schema(inventorySDL, root, map[string]*graphql.Object{"Product": product}, func(rep obj) obj {
		upc := fmt.Sprint(rep["upc"])
		stock, ok := inStock[upc]
		if !ok {
			return nil
		}
		return obj{"__typename": "Product", "upc": upc, "inStock": stock}
	})
}

// -- products -----------------------------------------------------------------------------------

const productsSDL = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

type Query {
  topProducts(first: Int = 5): [Product]
}

type Product @key(fields: "upc") {
  upc: String!
  name: String
  price: Int
  weight: Int
}
`

func productsSchema() graphql.Schema {
	product := graphql.NewObject(graphql.ObjectConfig{Name: "Product", Fields: graphql.Fields{
		"upc":    &graphql.Field{Type: graphql.NewNonNull(graphql.String)},
		"name":   &graphql.Field{Type: graphql.String},
		"price":  &graphql.Field{Type: graphql.Int},
		"weight": &graphql.Field{Type: graphql.Int},
	}})
	all := make([]interface{}, len(products))
	for i, p := range products {
		all[i] = tagged("Product", p)
	}
	root := graphql.Fields{
		"topProducts": &graphql.Field{
			Type: graphql.NewList(product),
			Args: graphql.FieldConfigArgument{"first": &graphql.ArgumentConfig{Type: graphql.Int, DefaultValue: 5}},
			Resolve: func(p graphql.ResolveParams) (interface{}, error) {
				n, _ := p.Args["first"].(int)
				if n < 0 {
					n = 0
				}
				if n > len(all) {
					n = len(all)
				}
				return all[:n], nil
			},
		},
	}
	return schema(productsSDL, root, map[string]*graphql.Object{"Product": product}, func(rep obj) obj {
		if p := find(products, "upc", fmt.Sprint(rep["upc"])); p != nil {
			return tagged("Product", p)
		}
		return nil
	})
}

// -- reviews ------------------------------------------------------------------------------------

const reviewsSDL = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@external", "@provides"])

type Review @key(fields: "id") {
  id: ID!
  body: String
  product: Product
  author: User @provides(fields: "username")
}

type User @key(fields: "id") {
  id: ID!
  username: String @external
  reviews: [Review]
}

type Product @key(fields: "upc") {
  upc: String!
  reviews: [Review]
}
`

func reviewsSchema() graphql.Schema {
	var review *graphql.Object
	firstTwo := func(graphql.ResolveParams) (interface{}, error) {
		return []interface{}{reviews[0], reviews[1]}, nil
	}
	user := graphql.NewObject(graphql.ObjectConfig{Name: "User", Fields: (graphql.FieldsThunk)(func() graphql.Fields {
		return graphql.Fields{
			"id":       &graphql.Field{Type: graphql.NewNonNull(graphql.ID)},
			"username": &graphql.Field{Type: graphql.String},
			// Every author has written the first two reviews (as in the public scenario).
			"reviews": &graphql.Field{Type: graphql.NewList(review), Resolve: firstTwo},
		}
	})})
	product := graphql.NewObject(graphql.ObjectConfig{Name: "Product", Fields: (graphql.FieldsThunk)(func() graphql.Fields {
		return graphql.Fields{
			"upc": &graphql.Field{Type: graphql.NewNonNull(graphql.String)},
			"reviews": &graphql.Field{Type: graphql.NewList(review), Resolve: func(p graphql.ResolveParams) (interface{}, error) {
				upc := p.Source.(obj)["upc"]
				out := []interface{}{}
				for _, r := range reviews {
					if r["product"].(obj)["upc"] == upc {
						out = append(out, r)
					}
				}
				return out, nil
			}},
		}
	})})
	review = graphql.NewObject(graphql.ObjectConfig{Name: "Review", Fields: graphql.Fields{
		"id":      &graphql.Field{Type: graphql.NewNonNull(graphql.ID)},
		"body":    &graphql.Field{Type: graphql.String},
		"product": &graphql.Field{Type: product},
		"author": &graphql.Field{Type: user, Resolve: func(graphql.ResolveParams) (interface{}, error) {
			return obj{"__typename": "User", "id": "1", "username": users[0]["username"]}, nil
		}},
	}})
	entities := map[string]*graphql.Object{"Review": review, "User": user, "Product": product}
	return schema(reviewsSDL, graphql.Fields{}, entities, func(rep obj) obj {
		switch rep["__typename"] {
		case "Review":
			return find(reviews, "id", fmt.Sprint(rep["id"]))
		case "User":
			return obj{"__typename": "User", "id": fmt.Sprint(rep["id"]), "username": "user"}
		case "Product":
			return obj{"__typename": "Product", "upc": fmt.Sprint(rep["upc"])}
		}
		return nil
	})
}

// -- HTTP ---------------------------------------------------------------------------------------

type request struct {
	Query         string                 `json:"query"`
	Variables     map[string]interface{} `json:"variables"`
	OperationName string                 `json:"operationName"`
}

type handler struct {
	schema graphql.Schema
	docs   sync.Map // query text -> *ast.Document (valid ones only)
}

func (h *handler) document(query string) (*ast.Document, []gqlerrors.FormattedError) {
	if doc, ok := h.docs.Load(query); ok {
		return doc.(*ast.Document), nil
	}
	doc, err := parser.Parse(parser.ParseParams{Source: source.NewSource(&source.Source{Body: []byte(query)})})
	if err != nil {
		return nil, gqlerrors.FormatErrors(err)
	}
	if result := graphql.ValidateDocument(&h.schema, doc, nil); !result.IsValid {
		return nil, result.Errors
	}
	h.docs.Store(query, doc)
	return doc, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "bad request body", http.StatusBadRequest)
		return
	}
	var result *graphql.Result
	if doc, errs := h.document(req.Query); errs != nil {
		result = &graphql.Result{Errors: errs}
	} else {
		result = graphql.Execute(graphql.ExecuteParams{
			Schema: h.schema, AST: doc, Args: req.Variables, OperationName: req.OperationName,
		})
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(result); err != nil {
		log.Print(err)
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:4200", "host:port to serve the four subgraphs on")
	flag.Parse()
	mux := http.NewServeMux()
	mux.Handle("/accounts", &handler{schema: accounts()})
	mux.Handle("/inventory", &handler{schema: inventory()})
	mux.Handle("/products", &handler{schema: productsSchema()})
	mux.Handle("/reviews", &handler{schema: reviewsSchema()})
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("OK")) })
	log.Printf("subgraphs on http://%s/{accounts,inventory,products,reviews}", *listen)
	log.Fatal(http.ListenAndServe(*listen, mux))
}
