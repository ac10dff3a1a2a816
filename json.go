package mapguard

import (
	"encoding/json"
	"fmt"
)

// encodeJSON encodes plain, the contents of a map of type typeName, as
// encoding/json encodes a map[K]V, with errors prefixed by the package.
func encodeJSON[K comparable, V any](typeName string, plain map[K]V) ([]byte, error) {
	b, err := json.Marshal(plain)
	if err != nil {
		return nil, fmt.Errorf("mapguard: encoding %s as JSON: %w", typeName, err)
	}
	return b, nil
}

// decodeJSON decodes a JSON object into a new map[K]V for a map of type
// typeName, with errors prefixed by the package. On error the caller's
// map has not been touched.
func decodeJSON[K comparable, V any](typeName string, data []byte) (map[K]V, error) {
	var plain map[K]V
	if err := json.Unmarshal(data, &plain); err != nil {
		return nil, fmt.Errorf("mapguard: decoding %s from JSON: %w", typeName, err)
	}
	return plain, nil
}
