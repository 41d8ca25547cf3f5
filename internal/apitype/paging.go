package apitype

// Paging is the envelope of every paged list: {items..., total, page,
// per_page, pages}; pages is at least 1.
type Paging struct {
	Total   int `json:"total"`
	Page    int `json:"page"`
	PerPage int `json:"per_page"`
	Pages   int `json:"pages"`
}

// NewPaging returns the envelope of page (1-based) of perPage items out of
// total, with pages at least 1 so an empty list has one page.
func NewPaging(page, perPage, total int) Paging {
	pages := 1
	if perPage > 0 && total > perPage {
		pages = (total + perPage - 1) / perPage
	}
	return Paging{Total: total, Page: page, PerPage: perPage, Pages: pages}
}
