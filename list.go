package apiws

// List is one page of a list: its items, whether more follow, and how many
// items the whole list (with its filter) holds. Every list method of the
// services answers one.
type List[T any] struct {
	Items []T
	More  bool
	Total int
}

// OneMore is p asking for one item more than p.First: a store reads it so
// that ListOf can tell whether more follow.
func (p Page) OneMore() Page {
	p.First++
	return p
}

// ListOf makes the list of page p from items read with p.OneMore(): at most
// p.First of them, and More when the extra one came.
func ListOf[T any](items []T, p Page, total int) List[T] {
	more := len(items) > p.First
	if more {
		items = items[:p.First]
	}
	return List[T]{Items: items, More: more, Total: total}
}
